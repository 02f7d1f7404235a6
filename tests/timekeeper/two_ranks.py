"""Starts both ranks of allreduce.py (they join the run's clock as participants) and prints their lines."""
import subprocess
import sys
import tempfile
from pathlib import Path

here = Path(__file__).parent
with tempfile.TemporaryDirectory() as tmp:
    store = str(Path(tmp) / "store")
    procs = [subprocess.Popen([sys.executable, str(here / "allreduce.py"), str(r), store], stdout=subprocess.PIPE, text=True)
             for r in range(2)]
    outs = [p.communicate()[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
for o in outs:
    print(o.strip().splitlines()[-1])
