#!/usr/bin/env bash
# Creates .venv with revati-search (its fake CUDA libraries compiled by the install), the pinned
# engines (CUDA 13 torch, transformers) and the test tools. Safe to re-run.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install -q --disable-pip-version-check -e ".[engines,test]"
