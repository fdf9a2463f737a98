/*
 * gproc-kill.so: lets unmodified tools signal global PIDs under `gproc exec`.
 *
 * gproc exec puts this library in LD_PRELOAD. It wraps kill(2): a PID of 2^22 or more is
 * a global PID (spec section 1), which the kernel does not know (it answers ESRCH), so the
 * signal is written to /proc/<gpid>/ctl instead, where /proc is the cluster view; a
 * negative one names a global process group and becomes "signal-group". PID 1 is the
 * cluster's root in the view, not this machine's init: it goes to /proc/1/ctl too, which
 * refuses every signal (EPERM; signal 0 checks as kill(2) does). Every other PID goes to
 * the real kill(2). So `pkill -f pattern`, `kill -STOP <gpid>` in a shell and
 * Python's os.kill() reach processes on any node, with kill(2)'s errors: ESRCH for no such
 * process, EPERM when the caller may not signal it (the kernel checks ctl's owner),
 * EINVAL for a bad signal. Signal 0 only checks, as kill(2) does.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/types.h>
#include <unistd.h>

#define GPID_MIN (1 << 22)
#define ROOT_GPID 1

static int (*real_kill)(pid_t, int);

static int fail(int err) {
  errno = err;
  return -1;
}

/* Maps what the cluster view answered to what kill(2) would. */
static int kill_errno(int err) {
  if (err == ENOENT) return ESRCH;
  if (err == EACCES) return EPERM;
  return err;
}

static int forward(pid_t gpid, int sig, int group) {
  char path[64];
  if (sig < 0 || sig > 64) return fail(EINVAL);
  snprintf(path, sizeof path, "/proc/%d/ctl", (int)gpid);
  if (sig == 0) {
    char dir[48];
    snprintf(dir, sizeof dir, "/proc/%d", (int)gpid);
    if (access(dir, F_OK) != 0) return fail(ESRCH);
    return access(path, W_OK) == 0 ? 0 : fail(EPERM);
  }
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return fail(kill_errno(errno));
  char cmd[40];
  int n = snprintf(cmd, sizeof cmd, "%s %d\n", group ? "signal-group" : "signal", sig);
  ssize_t written = write(fd, cmd, (size_t)n);
  int err = errno;
  close(fd);
  return written == n ? 0 : fail(kill_errno(err));
}

int kill(pid_t pid, int sig) {
  if (pid >= GPID_MIN || pid == ROOT_GPID) return forward(pid, sig, 0);
  if (pid <= -GPID_MIN) return forward(-pid, sig, 1);
  if (!real_kill) real_kill = (int (*)(pid_t, int))dlsym(RTLD_NEXT, "kill");
  return real_kill(pid, sig);
}
