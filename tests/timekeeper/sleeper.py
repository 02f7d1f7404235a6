"""A parent with a child participant that waits for it; prints the child's pid, then both wait."""
import os
import subprocess
import sys
import time

child = subprocess.Popen([sys.executable, "-c", "import time\nwhile True: time.sleep(0.01)"])
print(child.pid, flush=True)
child.wait()   # blocked on the other participant
