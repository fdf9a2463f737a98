#!/usr/bin/env python3
"""Starts the hostile processes a simulated node carries in tests, then exits.

Writes {"hostile": pid, "zombie": pid, "zombie_parent": pid, "bigcmd": pid,
"threads": pid} (PIDs as this PID namespace sees them) to the file named by argv[1].
The children outlive this script: they are re-parented to the namespace's init.
"""
import json
import os
import subprocess
import sys
import time

out = sys.argv[1]
py = sys.executable
sleep = 'import time\nwhile True: time.sleep(3600)\n'

hostile = subprocess.Popen([py, '-c', 'open("/proc/self/comm", "w").write("x) (y\\nz w")\n' + sleep])

# A zombie: the child exits, its parent sleeps and never reaps it.
r, w = os.pipe()
zombie_parent = subprocess.Popen(
    [py, '-c', 'import os, sys\npid = os.fork()\nif pid == 0: os._exit(3)\nos.write(%d, str(pid).encode())\nos.close(%d)\n' % (w, w) + sleep],
    pass_fds=(w,))
os.close(w)
zombie = int(os.read(r, 32))

# A command line of 200 KiB (single arguments are limited to 128 KiB, so four of 50 KiB).
arg = 'a' * (50 * 1024)
bigcmd = subprocess.Popen([py, '-c', sleep, arg, arg, arg, arg + 'end'])

threads = subprocess.Popen([py, '-c', 'import threading, time\n'
                            'for _ in range(3): threading.Thread(target=time.sleep, args=(1e6,), daemon=True).start()\n' + sleep])

# Wait until every fixture is in its final state before telling anyone.
def state(pid):
    with open('/proc/%d/stat' % pid) as f:
        return f.read().rsplit(')', 1)[1].split()[0]

def threads_of(pid):
    return len(os.listdir('/proc/%d/task' % pid))

deadline = time.time() + 10
while time.time() < deadline:
    try:
        with open('/proc/%d/comm' % hostile.pid) as f:
            renamed = f.read().startswith('x) (y')
        if renamed and state(zombie) == 'Z' and threads_of(threads.pid) >= 4:
            break
    except OSError:
        pass
    time.sleep(0.05)

# Then until every sleeper is asleep for good: stat and status unchanged over 200 ms
# (Python's start-up can take seconds on a loaded machine, so a fixed pause is not enough).
def files(pid):
    out = []
    for name in ('stat', 'status', 'statm'):
        with open('/proc/%d/%s' % (pid, name)) as f:
            out.append(f.read())
    return out

sleepers = (hostile.pid, zombie_parent.pid, bigcmd.pid, threads.pid)
deadline = time.time() + 20
before = [files(p) for p in sleepers]
while time.time() < deadline:
    time.sleep(0.2)
    now = [files(p) for p in sleepers]
    if now == before and all(state(p) == 'S' for p in sleepers):
        break
    before = now

with open(out + '.tmp', 'w') as f:
    json.dump({'hostile': hostile.pid, 'zombie': zombie, 'zombie_parent': zombie_parent.pid,
               'bigcmd': bigcmd.pid, 'threads': threads.pid}, f)
os.rename(out + '.tmp', out)
