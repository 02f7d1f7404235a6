"""Shared fixtures: the built fake libraries, nvcc-built test programs, runs under the launcher."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from interpose.trace import load_trace  # noqa: F401  (re-exported for the tests)

ROOT = Path(__file__).resolve().parents[1]
NATIVE = ROOT / "tests" / "native"
# programs of the runtime/driver surface (library-specific tests build their own)
CORE_PROGRAMS = {"runtime_features", "driver_kernel", "driver_module", "stub_call", "launch_storm"}


def nvcc() -> str:
    path = shutil.which("nvcc") or "/usr/local/cuda/bin/nvcc"
    if not Path(path).exists():
        pytest.fail("nvcc not found: the native tests need the CUDA toolkit compiler (no GPU)")
    return path


@pytest.fixture(scope="session")
def lib_dir() -> Path:
    from interpose.launcher import ensure_built
    return ensure_built()


@pytest.fixture(scope="session")
def programs(tmp_path_factory: pytest.TempPathFactory, lib_dir: Path) -> dict[str, Path]:
    """The C/CUDA test programs, built once: nvcc with -cudart shared (static cudart bypasses us)."""
    out = tmp_path_factory.mktemp("programs")
    inc = "/usr/local/cuda/include"
    built = {}
    for src in sorted(p for p in NATIVE.glob("*.cu") if p.stem in CORE_PROGRAMS):
        if src.stem.endswith("_kernel"):
            target = out / f"{src.stem}.cubin"
            cmd = [nvcc(), "-cubin", "-arch=sm_90", "-o", str(target), str(src)]
        else:
            target = out / src.stem
            cmd = [nvcc(), "-cudart", "shared", "-arch=sm_90", "-o", str(target), str(src), f"-L{lib_dir}"]
        subprocess.run(cmd, check=True, capture_output=True)
        built[src.stem] = target
    for src in sorted(p for p in NATIVE.glob("*.c") if p.stem in CORE_PROGRAMS):
        target = out / src.stem
        lib = "-lcuda" if src.stem.startswith("driver") else "-lcudart"
        subprocess.run(["gcc", f"-I{inc}", "-o", str(target), str(src), f"-L{lib_dir}", lib],
                       check=True, capture_output=True)
        built[src.stem] = target
    return built


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str

    def checks(self) -> dict[str, str]:
        """The program's `CHECK name value` lines."""
        out = {}
        for line in self.stdout.splitlines():
            if line.startswith("CHECK "):
                _, name, value = line.split(" ", 2)
                out[name] = value
        return out


def revati_run(args: list[str], cmd: list[str], timeout: float = 600, env: dict[str, str] | None = None) -> Run:
    """`revati-search run ARGS -- CMD` as a user types it."""
    p = subprocess.run([sys.executable, "-m", "revati_search.cli", "run", *args, "--", *cmd],
                       capture_output=True, text=True, timeout=timeout, cwd=ROOT,
                       env={**os.environ, **(env or {})})
    return Run(p.returncode, p.stdout, p.stderr)


# ------------------------------------------------------------------------------------------- PostgreSQL
# A real PostgreSQL server for the storage tests: REVATI_TEST_POSTGRES_URL when set (a server CI
# provides; tests create their own databases on it), else one started by pgserver (pip-installed
# binaries, no root needed) in a temporary folder, stopped and deleted at the end of the session.

@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory):
    """The server's admin URL (postgresql+psycopg://..., database `postgres`), for SQLAlchemy and Optuna."""
    from revati_search.store import storage_url

    given = os.environ.get("REVATI_TEST_POSTGRES_URL")
    if given:
        yield storage_url(given)
        return
    try:
        import warnings
        with warnings.catch_warnings():   # platformdirs: XDG_RUNTIME_DIR unset (it falls back to /tmp)
            warnings.simplefilter("ignore")
            import pgserver
    except ImportError:
        pytest.fail("PostgreSQL tests need pgserver (pip install -e '.[test]') or REVATI_TEST_POSTGRES_URL")
    server = pgserver.get_server(tmp_path_factory.mktemp("pgdata"), cleanup_mode="delete")
    try:
        yield storage_url(server.get_uri())
    finally:
        server.cleanup()


@pytest.fixture
def postgres_url(postgres_server: str) -> str:
    """A fresh, empty database on the test server, as a URL both SQLAlchemy and Optuna open."""
    import uuid

    import sqlalchemy as sa

    name = f"t_{uuid.uuid4().hex[:16]}"
    admin = sa.create_engine(postgres_server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    admin.dispose()
    return sa.make_url(postgres_server).set(database=name).render_as_string(hide_password=False)
