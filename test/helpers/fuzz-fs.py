#!/usr/bin/env python3
"""A file-system fuzzer of the cluster view, for test/fuzz.test.ts.

Usage: fuzz-fs.py JSON where JSON is
  {"mount": DIR, "count": N, "budget_s": S, "seed": K, "readonly": bool,
   "gpids": [...], "ctl_gpids": [...], "nodes": [1, 2]}

It makes random paths under the mount (valid gpids, random numbers, long names, "..",
unicode, deep paths, nodes/<id>/...) and runs random operations on them: stat, lstat,
readdir, read at random offsets, readlink, and (unless readonly) writes of random bytes
(to ctl files and others), mkdir, rmdir, unlink, rename, symlink, link, chmod, chown,
truncate, create, mknod, setxattr, utime. Operations that change something are done only on
paths that resolve inside the mount (never through a link into the real /proc or the host).

Every operation runs under a 5 s alarm; one that outlives it counts as TIMEOUT. Reads of
files that block by design (<gpid>/wait, events) run in a child killed after 0.5 s
(outcome "blocked"). It prints one JSON object: counts per operation and outcome ("ok" or
the errno name), the number of operations, and samples of each outcome. It writes the
operation it is about to do to stderr, so a hang shows where.
"""
import errno
import json
import os
import random
import signal
import sys
import time

spec = json.loads(sys.argv[1])
mount = spec["mount"].rstrip("/")
rng = random.Random(spec["seed"])
readonly = spec.get("readonly", False)
gpids = spec["gpids"]
ctl_gpids = spec.get("ctl_gpids", [])
nodes = spec.get("nodes", [1, 2])

TOP_FILES = ["stat", "uptime", "meminfo", "loadavg", "cpuinfo", "sys", "sys/kernel", "sys/kernel/pid_max",
             "sys/kernel/osrelease", "nodes", "events", "self", "version", "mounts", "kmsg", "sysrq-trigger"]
PROC_FILES = ["stat", "status", "statm", "cmdline", "comm", "environ", "cgroup", "io", "ctl", "wait", "node",
              "usage", "task", "exe", "cwd", "root", "fd", "maps", "mem", "."]
TASK_FILES = ["stat", "status", "statm", "comm", "cmdline"]
NODE_FILES = ["name", "address", "state", "uptime", "meminfo", "loadavg", "spawn", "stat", "x"]
NUMBERS = ["0", "-1", "4194304", "4194305", "4294967295", "4294967296", "18446744073709551616", "00001", "1e3", "+5",
           "0x10", " 1", "1 ", "3.5", "99999999999999999999999999"]


def name():
    k = rng.randrange(10)
    if k == 0:
        return "x" * rng.choice([1, 254, 255, 256, 1000, 4096])
    if k == 1:
        return rng.choice(["..", ".", "...", "../..", "//", "./."])
    if k == 2:
        return rng.choice(["😀", "ü", "日本", "\u202e", "\ufeff", "a\tb", "a\nb", " ", "-", "%s"])
    if k == 3:
        return rng.choice(NUMBERS)
    if k == 4:
        return str(rng.randrange(1, 1 << 24))
    if k == 5:
        return bytes(rng.randrange(1, 256) for _ in range(rng.randrange(1, 8))).replace(b"/", b"_").decode("latin1")
    return rng.choice(PROC_FILES + TOP_FILES + NODE_FILES)


def path():
    k = rng.randrange(12)
    g = str(rng.choice(gpids))
    if k == 0:
        parts = [rng.choice(TOP_FILES)]
    elif k in (1, 2, 3):
        parts = [g, rng.choice(PROC_FILES)]
    elif k == 4:
        parts = [g, "task", str(rng.choice(gpids)), rng.choice(TASK_FILES)]
    elif k == 5:
        parts = ["nodes", str(rng.choice(nodes + [0, 3, 99, 4294967296])), rng.choice(NODE_FILES)]
    elif k == 6:
        parts = [str(rng.choice(ctl_gpids or gpids)), "ctl"]
    elif k == 7:
        parts = [name() for _ in range(rng.randrange(1, 4))]
    elif k == 8:
        parts = [rng.choice([g, "nodes", "sys", "a"])] + ["d"] * rng.choice([10, 60, 400])  # deep
    elif k == 9:
        parts = [g] + [name()]
    elif k == 10:
        parts = []
    else:
        parts = [g]
    if rng.randrange(8) == 0:
        parts.append(rng.choice(["..", ".", "x", ""]))
    return mount + ("/" + "/".join(parts) if parts else "")


def blob():
    k = rng.randrange(9)
    if k == 0:
        return rng.choice([b"kill", b"kill\n", b"TERM\n", b"signal 0\n", b"signal 15", b"stop\n", b"cont\n",
                           b"signal-group 0\n", b"0\n", b"signal SIGCONT\n"])
    if k == 1:
        return b""
    if k == 2:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 100)))
    if k == 3:
        return b"A" * rng.choice([64, 65, 4096, 1 << 20])
    if k == 4:
        return b"signal \0 9\n"
    if k == 5:
        return rng.choice([b"signal -1\n", b"signal 4294967295\n", b"signal 99\n", b"signal SIGFOO\n", b"9 9 9\n", b"kill 9\n"])
    if k == 6:
        return "sïgnal 😀\n".encode()
    if k == 7:
        return b"\xff\xfe\n"
    return b"signal 0\n" * rng.choice([2, 10])


OFFSETS = [0, 1, 4095, 4096, 1 << 31, 1 << 40, (1 << 63) - 1]


class Timeout(Exception):
    pass


def on_alarm(_sig, _frame):
    raise Timeout()


signal.signal(signal.SIGALRM, on_alarm)


def inside(p):
    """Whether p resolves inside the mount (not through a link into the real /proc)."""
    try:
        r = os.path.realpath(p)
    except (OSError, ValueError):
        return False
    return r == mount or r.startswith(mount + "/")


def blocked_read(p):
    """Reads a file that may block by design in a child, killed after 0.5 s."""
    pid = os.fork()
    if pid == 0:
        try:
            fd = os.open(p, os.O_RDONLY)
            os.read(fd, 4096)
            os._exit(0)
        except OSError as e:
            os._exit(100 + (e.errno % 100))
    deadline = time.time() + 0.5
    while time.time() < deadline:
        done, st = os.waitpid(pid, os.WNOHANG)
        if done:
            code = os.waitstatus_to_exitcode(st)
            if code == 0:
                return "ok"
            raise OSError(code - 100, "in child")
        time.sleep(0.02)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    return "blocked"


def do_read(p):
    base = os.path.basename(p)
    if base in ("wait", "events", "kmsg") or not inside(p):
        if not inside(p):
            os.stat(p)  # a link out of the view: only stat it
            return "ok"
        return blocked_read(p)
    fd = os.open(p, os.O_RDONLY | (os.O_NONBLOCK if rng.randrange(2) else 0))
    try:
        os.pread(fd, rng.choice([1, 100, 4096, 65536, 1 << 20]), rng.choice(OFFSETS + [rng.randrange(10000)]))
    finally:
        os.close(fd)
    return "ok"


def do_write(p):
    if not inside(p):
        return "skipped"
    flags = os.O_WRONLY | rng.choice([0, 0, os.O_TRUNC, os.O_APPEND, os.O_RDWR & ~os.O_WRONLY])
    fd = os.open(p, flags)
    try:
        os.pwrite(fd, blob(), rng.choice([0, 0, 0, 1, 64, 1 << 31]))
    finally:
        os.close(fd)
    return "ok"


def changing(fn):
    def run(p):
        if not inside(os.path.dirname(p)) or not inside(p):
            return "skipped"
        fn(p)
        return "ok"
    return run


def other():
    q = path()
    return q if inside(os.path.dirname(q)) else mount + "/x"


OPS = {
    "stat": lambda p: (os.stat(p), "ok")[1],
    "lstat": lambda p: (os.lstat(p), "ok")[1],
    "readdir": lambda p: (os.listdir(p), "ok")[1],
    "read": do_read,
    "readlink": lambda p: (os.readlink(p), "ok")[1],
    "access": lambda p: (os.access(p, rng.choice([os.R_OK, os.W_OK, os.X_OK])), "ok")[1],
}
if not readonly:
    OPS.update({
        "write": do_write,
        "mkdir": changing(lambda p: os.mkdir(p)),
        "rmdir": changing(lambda p: os.rmdir(p)),
        "unlink": changing(lambda p: os.unlink(p)),
        "rename": changing(lambda p: os.rename(p, other())),
        "symlink": changing(lambda p: os.symlink("/etc/passwd", p)),
        "link": changing(lambda p: os.link(p, other())),
        "chmod": changing(lambda p: os.chmod(p, rng.choice([0o777, 0o4755, 0]))),
        "chown": changing(lambda p: os.chown(p, rng.choice([0, 65534]), -1)),
        "truncate": changing(lambda p: os.truncate(p, rng.choice([0, 5, 1 << 40]))),
        "create": changing(lambda p: os.close(os.open(p, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))),
        "mknod": changing(lambda p: os.mkfifo(p)),
        "setxattr": changing(lambda p: os.setxattr(p, "user.x", b"y", follow_symlinks=False)),
        "utime": changing(lambda p: os.utime(p, (0, 0), follow_symlinks=False)),
    })
WEIGHTS = {"stat": 3, "lstat": 2, "readdir": 3, "read": 6, "readlink": 2, "access": 1, "write": 6}

counts = {}
samples = {}
n = 0
start = time.time()
names = list(OPS)
weights = [WEIGHTS.get(k, 1) for k in names]
stopped_early = False
while n < spec["count"]:
    if time.time() - start > spec["budget_s"]:
        stopped_early = True
        break
    op = rng.choices(names, weights)[0]
    p = path()
    n += 1
    sys.stderr.write(f"{n} {op} {p[:200]!r}\n")
    t0 = time.time()
    signal.setitimer(signal.ITIMER_REAL, 5.0)
    try:
        outcome = OPS[op](p)
    except Timeout:
        outcome = "TIMEOUT"
    except OSError as e:
        outcome = errno.errorcode.get(e.errno, f"errno{e.errno}")
    except ValueError as e:  # embedded NUL and the like: refused before any system call
        outcome = "ValueError"
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    by_op = counts.setdefault(op, {})
    by_op[outcome] = by_op.get(outcome, 0) + 1
    s = samples.setdefault(outcome, [])
    if len(s) < 4:
        s.append(f"{op} {p[len(mount):][:120]!r} ({time.time() - t0:.2f} s)")

print(json.dumps({"ops": n, "elapsed_s": round(time.time() - start, 2), "stopped_early": stopped_early,
                  "counts": counts, "samples": samples}))
