#!/usr/bin/env bash
# Creates .venv with revati-search (its fake CUDA libraries compiled by the install), the pinned
# engines (CUDA 13 torch, transformers) and the test tools. Safe to re-run.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install -q --disable-pip-version-check -e ".[engines,test]"
# CUDA 12 headers for the CUDA 12 build (python -m interpose.build --cuda-major 12, tests/test_cuda12.py):
# the runtime wheel (3.5 MB; pin = HEADER_WHEELS in interpose/build.py) goes to .venv/cuda12, never into
# site-packages: a CUDA 13 torch would find its nvidia/cuda_runtime/lib/libcudart.so.12 and preload it.
[ -f .venv/cuda12/nvidia/cuda_runtime/include/cuda.h ] ||
    .venv/bin/pip install -q --disable-pip-version-check --no-deps --target .venv/cuda12 "nvidia-cuda-runtime-cu12==12.9.79"
