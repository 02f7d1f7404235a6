"""--real runs drop the interposer from the environment but keep the caller's own preloads (the cuDNN
timing shim of tools/cudnn_timing_shim.c must reach the engine; benchmarks/prefill-first-ab/README.md)."""
from __future__ import annotations

from interpose import build
from revati_search.emulate import CORE_LIBRARY, real_env


def test_core_library_name_matches_the_interposer_build():
    assert CORE_LIBRARY == build.CORE


def test_real_env_keeps_own_preloads_and_drops_the_interposer(tmp_path):
    fakes = tmp_path / "lib"
    fakes.mkdir()
    for name in (build.CORE, "libcudnn.so.9"):
        (fakes / name).write_bytes(b"")
    shim = tmp_path / "tools" / "shim.so"
    environ = {"LD_PRELOAD": f"{fakes / build.CORE}:{fakes / 'libcudnn.so.9'} {shim}",
               "REVATI_HARDWARE": "/x/hw.json", "CUDNN_SHIM_LOG": "/x/log", "PATH": "/bin"}
    env = real_env(environ)
    assert env["LD_PRELOAD"] == str(shim)
    assert env["CUDNN_SHIM_LOG"] == "/x/log" and env["PATH"] == "/bin"
    assert not any(k.startswith("REVATI_") for k in env)


def test_real_env_without_own_preloads_has_no_ld_preload(tmp_path):
    (tmp_path / build.CORE).write_bytes(b"")
    assert "LD_PRELOAD" not in real_env({"LD_PRELOAD": str(tmp_path / build.CORE)})
    assert "LD_PRELOAD" not in real_env({})
