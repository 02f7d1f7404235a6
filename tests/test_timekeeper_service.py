"""The timekeeper service on its own: real shared memory, /proc, subprocesses and ZeroMQ. Participants
are simulated by tests/native/timekeeper_participant.c, which speaks the clock page protocol of
timekeeper/native/revati_clock.h directly; the last tests run real programs under the launcher,
with the interposer core's native client."""
from __future__ import annotations

import ctypes
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import zmq

from conftest import NATIVE, ROOT
from timekeeper import page as pg
from timekeeper.service import Timekeeper

HEADER_DIR = ROOT / "timekeeper" / "native"
T = 5_000_000_000   # a 5 s virtual deadline


@pytest.fixture(scope="module")
def participant(tmp_path_factory: pytest.TempPathFactory) -> Path:
    exe = tmp_path_factory.mktemp("tk") / "participant"
    subprocess.run(["gcc", "-O2", "-Wall", "-Werror", f"-I{HEADER_DIR}", "-o", str(exe),
                    str(NATIVE / "timekeeper_participant.c"), "-pthread"], check=True)
    return exe


@pytest.fixture
def timekeeper():
    """Makes Timekeepers; afterwards, none of their clock pages (or companions) may be left in /dev/shm."""
    made: list[Timekeeper] = []

    def make(**kw) -> Timekeeper:
        made.append(Timekeeper(**kw))
        return made[-1]

    yield make
    leaked = [p for tk in made for p in tk.path.parent.glob(f"{tk.path.name}*")]
    assert not leaked, f"clock pages left behind: {leaked}"


def start(exe: Path, tk: Timekeeper, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([str(exe), *args], env={**os.environ, **tk.env()}, text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)


def wait_for(cond, timeout: float = 5.0, what: str = "condition"):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = cond()
        if value:
            return value
        time.sleep(0.005)
    raise AssertionError(f"timed out waiting for {what}")


def waiting(tk: Timekeeper, n: int) -> bool:
    """n threads are inside a wait (their slot says so)."""
    return sum(t.in_wait != pg.RUNNING for p in tk.status().participants for t in p.threads) >= n


def woke(line: str) -> dict[str, int]:
    tag, *fields = line.split()
    assert tag == "WOKE", line
    return {k: int(v) for k, v in (f.split("=") for f in fields)}


# ---------------- the page layout ----------------
def test_layout_matches_header(tmp_path: Path) -> None:
    structs = {"rvtk_page": pg.Page, "rvtk_proc": pg.Proc, "rvtk_thread": pg.Thread}
    lines = [f'printf("{c} %zu %zu\\n", sizeof({c}), _Alignof({c}));' for c in structs]
    lines += [f'printf("{c}.{f} %zu\\n", offsetof({c}, {f}));' for c, s in structs.items() for f, _ in s._fields_]
    lines += ['printf("mutex %zu\\n", sizeof(pthread_mutex_t));']
    consts = {"RVTK_MAGIC": pg.MAGIC, "RVTK_VERSION": pg.VERSION, "RVTK_MAX_PROCS": pg.MAX_PROCS,
              "RVTK_MAX_THREADS": pg.MAX_THREADS, "RVTK_NO_TARGET": pg.NO_TARGET, "RVTK_PROC_FREE": pg.PROC_FREE,
              "RVTK_PROC_LIVE": pg.PROC_LIVE, "RVTK_PROC_EXITED": pg.PROC_EXITED, "RVTK_RUNNING": pg.RUNNING,
              "RVTK_WAIT_APP": pg.WAIT_APP, "RVTK_WAIT_VIRTUAL": pg.WAIT_VIRTUAL}
    lines += [f'printf("{k} %lld\\n", (long long){k});' for k in consts]
    src = tmp_path / "layout.c"
    src.write_text('#include <stddef.h>\n#include <stdio.h>\n#include "revati_clock.h"\nint main(void) {\n'
                   + "\n".join(lines) + "\nreturn 0;\n}\n")
    subprocess.run(["gcc", f"-I{HEADER_DIR}", "-o", str(tmp_path / "layout"), str(src)], check=True)
    printed = subprocess.run([str(tmp_path / "layout")], capture_output=True, text=True, check=True).stdout
    out = dict(line.split(" ", 1) for line in printed.splitlines())
    for c, s in structs.items():
        assert out[c] == f"{ctypes.sizeof(s)} {ctypes.alignment(s)}", c
        for f, _ in s._fields_:
            assert int(out[f"{c}.{f}"]) == getattr(s, f).offset, f"{c}.{f}"
    assert int(out["mutex"]) == ctypes.sizeof(pg.Mutex)
    for k, v in consts.items():
        assert int(out[k]) == v, k


# ---------------- the clock ----------------
def test_zero_participants_clock_is_constant(timekeeper) -> None:
    real = time.clock_gettime_ns(time.CLOCK_REALTIME)
    with timekeeper(cpu_scale=1.0) as tk:
        p = tk.page
        assert (p.magic, p.version, p.cpu_scale, p.anchor_virtual_ns) == (pg.MAGIC, pg.VERSION, 1.0, 0)
        assert abs(p.realtime_offset_ns - real) < 1e9
        assert tk.env() == {"REVATI_TIMEKEEPER": str(tk.path)}
        assert tk.now_ns() == 0
        time.sleep(0.2)   # 40 monitor checks: no jump, no failure with nobody registered
        assert tk.now_ns() == 0 and p.generation == 0 and tk.failure is None
        assert tk.path.stat().st_size == ctypes.sizeof(pg.Page)
        companion = Path(f"{tk.path}.coll")   # what the native side makes beside the page
        companion.write_bytes(b"x")
    assert not tk.path.exists() and not companion.exists()


def test_jump_to_exact_target(participant: Path, timekeeper) -> None:
    with timekeeper(cpu_scale=1.0) as tk:
        t0 = time.monotonic()
        a = start(participant, tk, "wait", str(T))
        out, _ = a.communicate(timeout=10)
        wall = time.monotonic() - t0
        assert a.returncode == 0, out
        w = woke(out.strip())
        assert w["anchor"] == T                     # the jump lands exactly on the deadline
        assert T <= w["g"] < T + 10_000_000         # plus the CPU the participant spent since
        assert w["generation"] >= 1
        assert wall < 2.0                           # 5 virtual seconds, no real sleep
        assert tk.failure is None


def test_cpu_burner_holds_the_jump(participant: Path, timekeeper) -> None:
    target = 1_000_000_000_000   # far beyond what the burn's CPU time can reach
    with timekeeper(cpu_scale=1.0) as tk:
        burner = start(participant, tk, "burn", "0.5")
        wait_for(lambda: len(tk.status().participants) == 1, what="burner registered")
        waiter = start(participant, tk, "wait", str(target))
        blocked = int(burner.stdout.readline().split("=")[1])   # the burn ended: now asleep in read(0)
        out = waiter.stdout.readline()
        w = woke(out)
        assert w["wall"] > blocked, "jumped while a participant was running"
        assert w["anchor"] == target
        assert tk.now_ns() >= target
        burner.stdin.close()
        assert burner.wait(5) == 0 and waiter.wait(5) == 0
        assert tk.failure is None


def test_cpu_time_advances_the_clock(participant: Path, timekeeper) -> None:
    with timekeeper(cpu_scale=2.0) as tk:
        burner = start(participant, tk, "burn", "0.3")
        burner.stdout.readline()
        g = tk.now_ns()
        cpu = time.clock_gettime_ns(pg.cpu_clock_id(burner.pid))
        assert 2 * cpu * 0.9 <= g <= 2 * cpu   # scaled CPU time since it registered
        burner.stdin.close()
        assert burner.wait(5) == 0
        after = tk.now_ns()
        assert after >= g   # leaving re-anchors: G never goes back


# ---------------- failure ----------------
def test_killed_participant_fails_the_run(participant: Path, timekeeper) -> None:
    reasons: list[str] = []
    with timekeeper(hang_timeout_s=600, on_failure=reasons.append) as tk:
        victim = start(participant, tk, "wait", "none")
        other = start(participant, tk, "wait", "none")
        wait_for(lambda: waiting(tk, 2), what="two waits")
        t0 = time.monotonic()
        victim.send_signal(signal.SIGKILL)
        reason = tk.wait_failed(5)
        assert reason is not None and time.monotonic() - t0 < 5
        assert f"pid {victim.pid} (participant wait none) died" in reason
        assert f"pid {other.pid}" in reason and "test-wait (no deadline)" in reason   # what the others wait for
        assert reasons == [reason]
        assert tk.page.failed == 1 and tk.page.fail_reason.decode() == reason[:511]
        out, _ = other.communicate(timeout=5)   # its wait returned on the failure
        assert other.returncode == 3 and out.startswith("FAILED")
        victim.wait()
    assert not tk.path.exists()


def test_death_inside_the_lock(participant: Path, timekeeper) -> None:
    """A participant killed mid-update: the robust lock is handed on and the seqlock window it left
    open is closed, so readers do not spin forever and the failure reaches the others."""
    with timekeeper(hang_timeout_s=600) as tk:
        other = start(participant, tk, "wait", "none")
        wait_for(lambda: waiting(tk, 1), what="a wait")
        victim = start(participant, tk, "die-locked")
        victim.wait(5)
        reason = tk.wait_failed(5)
        assert reason is not None and f"pid {victim.pid} (participant die-locked) died" in reason
        assert tk.page.seq % 2 == 0 and tk.now_ns() >= 0
        assert other.wait(5) == 3


def test_hang_fails_the_run(participant: Path, timekeeper) -> None:
    with timekeeper(hang_timeout_s=0.5) as tk:
        p = start(participant, tk, "block")
        reason = tk.wait_failed(5)
        assert reason is not None and "blocked with no deadline for 0.5 s" in reason
        assert f"pid {p.pid} (participant block): thread {p.pid} asleep in read" in reason
        p.kill()
        p.wait()


def test_nonzero_exit_fails_the_run(participant: Path, timekeeper) -> None:
    with timekeeper(hang_timeout_s=600) as tk:
        waiter = start(participant, tk, "wait", "none")
        wait_for(lambda: waiting(tk, 1), what="a wait")
        quitter = start(participant, tk, "exit", "7")
        reason = tk.wait_failed(5)
        assert reason is not None
        assert f"pid {quitter.pid} (participant exit 7) exited with code 7 while other participants are live" in reason
        assert waiter.wait(5) == 3 and quitter.wait(5) == 7


def test_nonzero_exit_seen_by_parent(participant: Path, timekeeper) -> None:
    """A child's failure that its parent participant handles (and then carries on) is not fatal;
    one after which every participant stalls fails the run at once, naming it."""
    with timekeeper(hang_timeout_s=600) as tk:
        handled = start(participant, tk, "child-exits", "7", str(T))
        assert woke(handled.communicate(timeout=10)[0].strip())["anchor"] == T
        assert handled.returncode == 0 and tk.failure is None
        stalled = start(participant, tk, "child-exits", "9", "none")
        reason = tk.wait_failed(5)
        assert reason is not None and "(participant child) exited with code 9" in reason
        assert f"pid {stalled.pid} (participant child-exits 9)" in reason
        assert stalled.wait(5) == 3


def test_participant_stopped_by_another_is_no_failure(participant: Path, timekeeper) -> None:
    with timekeeper(hang_timeout_s=600) as tk:
        worker = start(participant, tk, "wait", "none")
        wait_for(lambda: waiting(tk, 1), what="a wait")
        stopper = start(participant, tk, "stop", str(worker.pid), str(T))
        assert woke(stopper.communicate(timeout=10)[0].strip())["anchor"] == T
        assert worker.wait(5) == -signal.SIGTERM and tk.failure is None


# ---------------- control endpoint ----------------
def test_status_and_stop_over_zmq(participant: Path, timekeeper) -> None:
    with timekeeper(hang_timeout_s=600) as tk:
        p = start(participant, tk, "wait", "none")
        wait_for(lambda: waiting(tk, 1), what="a wait")
        ctx = zmq.Context()
        sock = ctx.socket(zmq.REQ)
        sock.connect(tk.endpoint)
        try:
            sock.send_json({"op": "status"})
            status = sock.recv_json()
            assert status["failed"] is False and status["reason"] is None
            assert status["now_ns"] >= 0 and status["generation"] == 0
            (part,) = status["participants"]
            assert part | {"threads": None} == {"slot": 0, "pid": p.pid, "name": "participant wait none",
                                                "state": "live", "exit_code": 0, "threads": None}
            assert part["threads"] == [{"tid": p.pid, "in_wait": "virtual", "target": None, "what": "test-wait"}]
            sock.send_json({"op": "bogus"})
            assert "error" in sock.recv_json()
            sock.send_json({"op": "stop"})
            assert sock.recv_json() == {"ok": True}
            assert tk.wait_failed(5) == "stopped over the control endpoint"
            assert p.wait(5) == 3
        finally:
            sock.close(linger=0)
            ctx.term()


# ---------------- no leaks ----------------
@pytest.mark.parametrize("ending", ["sigint", "atexit"])
def test_page_unlinked_when_the_owner_ends(ending: str) -> None:
    script = ("import sys, time\nfrom timekeeper.service import Timekeeper\ntk = Timekeeper().start()\n"
              "print(tk.path, flush=True)\n" + ("time.sleep(60)\n" if ending == "sigint" else "sys.exit(0)\n"))
    p = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    path = Path(p.stdout.readline().strip())
    if ending == "sigint":
        assert path.exists()
        p.send_signal(signal.SIGINT)   # KeyboardInterrupt: the interpreter exits through atexit
    p.wait(10)
    assert not path.exists()


# ---------------- under the launcher, with the interposer core's native client ----------------
@pytest.fixture(scope="module")
def core_built() -> None:
    from interpose.launcher import ensure_built
    ensure_built()


def test_launcher_virtual_sleep(core_built: None) -> None:
    from interpose.launcher import VirtualGPUConfig, VirtualGPUs
    prog = "import time; t = time.monotonic(); time.sleep(30); print(time.monotonic() - t)"
    t0 = time.monotonic()
    with VirtualGPUs(VirtualGPUConfig(predictor="fixed:1ms")) as v:
        assert v.env()["REVATI_TIMEKEEPER"] == str(v.timekeeper.path)
        r = subprocess.run([sys.executable, "-c", prog], env=v.env(), capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        assert float(r.stdout) >= 30
        assert v.timekeeper.now_ns() >= 30_000_000_000
    assert time.monotonic() - t0 < 20
    assert not v.timekeeper.path.exists()
    with VirtualGPUs(VirtualGPUConfig(predictor="fixed:1ms", timekeeper=False)) as v:
        assert v.timekeeper is None and "REVATI_TIMEKEEPER" not in v.env()


def test_launcher_failure_kills_the_group(core_built: None, tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    from interpose.launcher import RUN_FAILED, VirtualGPUConfig, VirtualGPUs
    from timekeeper.procfs import process_alive
    # the child starts a grandchild; both wait for input that never comes (no deadline)
    pid_file = tmp_path / "grandchild"
    grandchild_prog = f"import os; open({str(pid_file)!r}, 'w').write(str(os.getpid())); os.read(0, 1)"
    prog = tmp_path / "child.py"
    prog.write_text("import subprocess, sys\n"
                    f"subprocess.Popen([sys.executable, '-c', {grandchild_prog!r}], stdin=subprocess.PIPE).wait()\n")
    with VirtualGPUs(VirtualGPUConfig(predictor="fixed:1ms")) as v:
        tk = v.timekeeper

        def stop_when_both_registered() -> None:
            wait_for(lambda: len(tk.status().participants) == 2 and pid_file.exists(), timeout=30,
                     what="two participants")
            tk.fail("stopped by the test")

        threading.Thread(target=stop_when_both_registered, daemon=True).start()
        code = v.run([sys.executable, str(prog)])
    assert code == RUN_FAILED and not tk.path.exists()
    assert "revati-search: the run failed: stopped by the test" in capfd.readouterr().err
    grandchild = int(pid_file.read_text())
    wait_for(lambda: not process_alive(grandchild), what="the grandchild killed with the group")


def test_cli_options(core_built: None) -> None:
    from conftest import revati_run
    read_scale = ("import os; from timekeeper.page import Page; "
                  "print(Page.from_buffer_copy(open(os.environ['REVATI_TIMEKEEPER'], 'rb').read()).cpu_scale)")
    r = revati_run(["--predictor", "fixed:1ms", "--cpu-scale", "2.5"], [sys.executable, "-c", read_scale])
    assert r.returncode == 0 and float(r.stdout) == 2.5, r.stderr
    r = revati_run(["--predictor", "fixed:1ms", "--no-timekeeper"],
                   [sys.executable, "-c", "import os; print(os.environ.get('REVATI_TIMEKEEPER'))"])
    assert r.returncode == 0 and r.stdout.strip() == "None", r.stderr


# ---------------- calibration ----------------
def test_a_measured_target_host_sets_the_scale(core_built: None, tmp_path: Path) -> None:
    """--target-host FILE (a host's `python3 -m timekeeper.calibrate` output) models that host: the scale
    is its benchmark against this host's (here: the stored emulation host's, no calibration cached)."""
    from conftest import revati_run
    from timekeeper import calibrate
    measured = subprocess.run([sys.executable, "-m", "timekeeper.calibrate", "--repeats", "1"], cwd=ROOT,
                              capture_output=True, text=True, check=True, timeout=120).stdout
    slow = {**json.loads(measured)}
    slow["python_loop_s"] *= 3   # a host three times slower on the loop than this one measured
    host_file = tmp_path / "calibrate.json"
    host_file.write_text(json.dumps(slow))
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    read_scale = ("import os; from timekeeper.page import Page; "
                  "print(Page.from_buffer_copy(open(os.environ['REVATI_TIMEKEEPER'], 'rb').read()).cpu_scale)")
    r = revati_run(["--predictor", "fixed:1ms", "--target-host", str(host_file)], [sys.executable, "-c", read_scale], env=env)
    assert r.returncode == 0, r.stderr
    expected = calibrate.scale(calibrate.load_timings(host_file), calibrate.default_host())
    assert float(r.stdout) == pytest.approx(expected, rel=1e-12)
    assert expected == pytest.approx(calibrate.scale(calibrate.CpuTimings(**json.loads(measured)), calibrate.default_host()) * 3 ** 0.5)
    host_file.write_text(json.dumps({"python_loop_s": 1.0}))
    r = revati_run(["--target-host", str(host_file)], [sys.executable, "-c", "pass"], env=env)
    said = " ".join(r.stderr.replace("│", " ").split())   # the error box wraps lines where the path ends
    assert r.returncode == 2 and "is not the output of `python3 -m timekeeper.calibrate`" in said


def test_calibrate_caches_the_scale(tmp_path: Path) -> None:
    from timekeeper import calibrate
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path)}
    show = [sys.executable, "-c", "from timekeeper.calibrate import cpu_scale; print(*cpu_scale('h100'), sep='|')"]
    value, source = subprocess.run(show, env=env, cwd=ROOT, capture_output=True, text=True, check=True).stdout.split("|")
    assert float(value) == calibrate.target_scale("h100", calibrate.default_host())
    assert source.startswith("default")
    r = subprocess.run([sys.executable, "-m", "revati_search.cli", "calibrate", "--target", "h100"], env=env,
                       cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    printed = float(r.stdout.split("h100: cpu_scale ")[1].split()[0])
    cached = json.loads((tmp_path / "revati-search" / "cpu_scale.json").read_text())
    (entry,) = cached.values()
    assert set(entry) == {"h100"} and round(entry["h100"]["cpu_scale"], 4) == printed and 0.1 < printed < 10
    value, source = subprocess.run(show, env=env, cwd=ROOT, capture_output=True, text=True, check=True).stdout.split("|")
    assert float(value) == entry["h100"]["cpu_scale"] and source.startswith("calibrated on this host")
    # the stored serving scale, carried from the reference emulation host to this one by the benchmark
    here = calibrate._timings(entry["h100"])
    assert float(value) == pytest.approx(calibrate.serving_scale("h100") * calibrate.scale(calibrate.default_host(), here))


def test_the_default_scale_is_the_targets_serving_scale(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where hosts.json gives a target a serving scale (measured by serving, hosts.json's note), an
    uncalibrated emulation host uses it as is; a target without one uses the benchmark ratio."""
    from timekeeper import calibrate
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    hosts = json.loads(calibrate.HOSTS_FILE.read_text())
    assert calibrate.cpu_scale("h100")[0] == hosts["targets"]["h100"]["serving_scale"]
    hosts["targets"]["other"] = {**hosts["targets"]["h100"], "python_loop_s": 1.0, "torch_ops_s": 1.0}
    del hosts["targets"]["other"]["serving_scale"]
    monkeypatch.setattr(calibrate, "HOSTS_FILE", tmp_path / "hosts.json")
    calibrate.HOSTS_FILE.write_text(json.dumps(hosts))
    value, source = calibrate.cpu_scale("other")
    ref = calibrate.default_host()
    assert value == pytest.approx((1.0 / ref.python_loop_s * 1.0 / ref.torch_ops_s) ** 0.5) and "benchmark" in source
