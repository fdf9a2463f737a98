/*
 * gproc-shim: the supervisor of one process the cluster started (spawn, run), in the
 * manner of containerd's shim and podman's conmon. The agent starts one per process; it
 * is the process's parent, outlives the agent and records how the process ended, so that
 * a restarted agent (which cannot adopt orphans back) finds the status on disk.
 * See native-notes/durable-processes.md.
 *
 *   gproc-shim            (no arguments; the agent talks to it on fd 3)
 *
 * The agent starts it in a session of its own (setsid), with the command's stdin, stdout
 * and stderr as fds 0-2 (/dev/null for spawn, pipes for run) and a socket as fd 3. On fd 3
 * the agent writes one request: a line "gproc-shim 2 LEN\n" and LEN bytes of NUL-ended
 * fields:
 *   DIR UID GID NGROUPS GROUP... CWD NOTE ARGC ARG... ENVC ENV... TERMINAL
 * DIR is the directory of process records, NOTE lines the agent wants in the record (its
 * origin), copied verbatim. TERMINAL is empty, or "ROWS COLS" for a run with a terminal
 * (ssh -t): the shim opens a pseudo-terminal of that size first (/dev/ptmx). The shim then:
 *  1. forks; the child blocks on a pipe until step 2 is done;
 *  2. reads the child's start time (stat field 22) and writes the process's record
 *     "state running" to DIR/BOOTID.PID.STARTTIME, atomically (a temporary file renamed
 *     over it; see write_record): a process runs only once its record exists;
 *  3. lets the child go: it makes a session and group of its own (its pid is their id,
 *     the shim is in neither); with a terminal, opens its slave side as the session's
 *     controlling terminal, gives it to UID and makes it fds 0-2; it takes the uid, gid and
 *     groups (unless UID is 0: root keeps the agent's), changes to CWD and execs ARG... with
 *     ENV... (PATH of ENV searched), so
 *     the started pid, its comm and its cmdline are the command's own. A failure is sent
 *     back on a close-on-exec pipe;
 *  4. answers on fd 3 "ok PID STARTTIME\n", or "error STAGE ERRNO\n" (then removes the
 *     record and exits 1), and closes fd 3. Its own fds 0-2 are /dev/null from the fork on:
 *     only the command holds the run's pipes, so the agent sees their end when it ends.
 *     With a terminal, a relay process (forked before the answer) holds the pipes and the
 *     terminal's master side instead: fd 0 to the terminal, the terminal to fd 1, and fd 3
 *     stays open for lines "winsize ROWS COLS\n" (TIOCSWINSZ: the command gets SIGWINCH).
 *     It ends when nothing holds the terminal any more (EIO) or the agent stops reading
 *     (EPIPE): closing the master then hangs the command's session up, as sshd's does;
 *  5. waits for the child and replaces its record, atomically, with "state exited N" or
 *     "state killed SIGNUM" and the wall-clock time it ended, then reaps it (it stays a
 *     zombie until its status is on disk: once its pid is gone, its record says how it
 *     ended); then exits 0.
 * It ignores SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGPIPE and the terminal stop signals (the
 * child gets default dispositions back), keeps nothing open to the agent after step 4,
 * and never allocates: the request lives in one mapping, unmapped once the child runs.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define AGENT_FD 3
/* argv and environment are bounded by the agent at 1 MiB each (defaults.limits). */
#define MAX_REQUEST (3 * 1024 * 1024)
#define MAX_GROUPS 65536

extern char **environ;

struct failure {
  int stage;
  int err;
};

static const char *const STAGES[] = {"setsid", "setgroups", "setgid", "setuid", "chdir", "exec", "request", "state", "fork", "terminal"};
enum { S_SETSID, S_SETGROUPS, S_SETGID, S_SETUID, S_CHDIR, S_EXEC, S_REQUEST, S_STATE, S_FORK, S_TERMINAL };

static char boot_id[64];
static char key[160];
static char head[1024]; /* the record's lines that do not change */
static char record[1200];
static int dir_fd = -1;

/* Writes all of buf; 0 or an errno. */
static int write_all(int fd, const char *buf, size_t len) {
  while (len > 0) {
    ssize_t n = write(fd, buf, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    buf += n;
    len -= (size_t)n;
  }
  return 0;
}

/* Reads exactly len bytes; 0, or an errno (EPROTO at an early end). */
static int read_all(int fd, char *buf, size_t len) {
  while (len > 0) {
    ssize_t n = read(fd, buf, len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno;
    if (n == 0) return EPROTO;
    buf += n;
    len -= (size_t)n;
  }
  return 0;
}

static void answer(const char *line) {
  write_all(AGENT_FD, line, strlen(line));
  close(AGENT_FD);
}

static void fail(int stage, int err) {
  char line[64];
  snprintf(line, sizeof line, "error %s %d\n", STAGES[stage], err);
  answer(line);
  exit(1);
}

/* The first line of a file into buf (newline removed); 0 or an errno. */
static int read_line(const char *path, char *buf, size_t size) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  ssize_t n;
  do n = read(fd, buf, size - 1);
  while (n < 0 && errno == EINTR);
  int err = n < 0 ? errno : 0;
  close(fd);
  if (err) return err;
  buf[n] = '\0';
  buf[strcspn(buf, "\n")] = '\0';
  return 0;
}

/* Start time of a process, clock ticks after boot (stat field 22); 0 when unreadable. */
static unsigned long long start_time(pid_t pid) {
  char path[64], stat[1024];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  if (read_line(path, stat, sizeof stat)) return 0;
  char *p = strrchr(stat, ')'); /* comm may hold spaces and parentheses */
  if (!p) return 0;
  p++;
  for (int field = 2; field < 21 && p; field++) p = strchr(p + 1, ' ');
  return p ? strtoull(p + 1, NULL, 10) : 0;
}

static unsigned long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (unsigned long long)ts.tv_sec * 1000 + (unsigned long long)ts.tv_nsec / 1000000;
}

/* Replaces the record with head + tail, atomically: a temporary file renamed over it, so
 * a reader (or a crash of any process) sees the old record or the new one, whole. No
 * fsync: a record means something only within its boot (its name holds the boot id), and
 * only a crash of the machine, which ends the boot and every process of it, loses the page
 * cache. Two fsyncs would add ~20 ms to every start here (native-notes/durable-processes.md).
 * 0 or an errno. */
static int write_record(const char *tail) {
  char tmp[sizeof key + 32];
  int len = snprintf(record, sizeof record, "%s%s", head, tail);
  if (len < 0 || (size_t)len >= sizeof record) return ENAMETOOLONG;
  snprintf(tmp, sizeof tmp, ".tmp.%d.%s", (int)getpid(), key);
  int fd = openat(dir_fd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return errno;
  int err = write_all(fd, record, (size_t)len);
  if (close(fd) < 0 && !err) err = errno;
  if (!err && renameat(dir_fd, tmp, dir_fd, key) < 0) err = errno;
  if (err) unlinkat(dir_fd, tmp, 0);
  return err;
}

/* Takes the next NUL-ended field of [*p, end); NULL when there is none. */
static char *field(char **p, char *end) {
  if (*p >= end) return NULL;
  char *f = *p;
  char *nul = memchr(f, '\0', (size_t)(end - f));
  if (!nul) return NULL;
  *p = nul + 1;
  return f;
}

static int number(char **p, char *end, unsigned long max, unsigned long *out) {
  char *f = field(p, end), *rest;
  if (!f || !*f) return -1;
  errno = 0;
  *out = strtoul(f, &rest, 10);
  return errno || *rest || *out > max ? -1 : 0;
}

/* Makes the terminal `pts` the controlling terminal of this new session, owned by `uid`,
 * and fds 0-2; 0 or an errno. */
static int take_terminal(const char *pts, uid_t uid) {
  int fd = open(pts, O_RDWR);
  if (fd < 0) return errno;
  int err = 0;
  if (ioctl(fd, TIOCSCTTY, 0) < 0 || (uid != 0 && fchown(fd, uid, (gid_t)-1) < 0)) err = errno;
  for (int i = 0; i < 3 && !err; i++)
    if (dup2(fd, i) < 0) err = errno;
  if (fd > 2) close(fd);
  return err;
}

/* A run's terminal: see step 4 of the header. Returns when it is over. */
static void relay(int master, int in, int out) {
  static char buf[65536], ctl[64];
  size_t pending = 0, sent = 0, used = 0; /* input read from `in` not yet written to master */
  struct pollfd fds[3] = {{master, POLLIN, 0}, {in, POLLIN, 0}, {AGENT_FD, POLLIN, 0}};
  fcntl(master, F_SETFL, fcntl(master, F_GETFL) | O_NONBLOCK);
  for (;;) {
    fds[0].events = POLLIN | (pending ? POLLOUT : 0);
    fds[1].fd = pending || in < 0 ? -1 : in; /* no more input until the last is written */
    if (poll(fds, 3, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      static char outbuf[65536];
      ssize_t n = read(master, outbuf, sizeof outbuf);
      if (n > 0 && write_all(out, outbuf, (size_t)n)) return; /* the agent stopped reading */
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) return; /* EIO: nobody holds it */
    }
    if (pending && (fds[0].revents & POLLOUT)) {
      ssize_t n = write(master, buf + sent, pending - sent);
      if (n < 0 && errno != EAGAIN && errno != EINTR) return;
      if (n > 0 && (sent += (size_t)n) == pending) pending = sent = 0;
    }
    if (fds[1].fd >= 0 && fds[1].revents) {
      ssize_t n = read(in, buf, sizeof buf);
      if (n > 0) pending = (size_t)n;
      else if (n == 0 || errno != EINTR) in = -1; /* end of input: the terminal stays */
    }
    if (fds[2].revents) {
      ssize_t n = read(AGENT_FD, ctl + used, sizeof ctl - 1 - used);
      if (n <= 0) {
        fds[2].fd = -1; /* the agent will send no sizes */
        continue;
      }
      used += (size_t)n;
      char *nl;
      while ((nl = memchr(ctl, '\n', used))) {
        unsigned rows, cols;
        *nl = '\0';
        struct winsize ws;
        memset(&ws, 0, sizeof ws);
        if (sscanf(ctl, "winsize %u %u", &rows, &cols) == 2 && rows <= 0xffff && cols <= 0xffff) {
          ws.ws_row = (unsigned short)rows;
          ws.ws_col = (unsigned short)cols;
          ioctl(master, TIOCSWINSZ, &ws);
        }
        used -= (size_t)(nl + 1 - ctl);
        memmove(ctl, nl + 1, used);
      }
      if (used == sizeof ctl - 1) used = 0; /* a line this long is not ours: dropped */
    }
  }
}

/* The child, up to its exec: waits for the record, then becomes the command. */
static void child(int go, int report, uid_t uid, gid_t gid, size_t ngroups, gid_t *groups, const char *cwd, char **argv, char **envp, const char *pts) {
  struct failure f = {0, 0};
  char c;
  /* Until its exec, the command's name (what exec will set), not the shim's: whoever
   * lists processes meanwhile sees the command's comm. */
  const char *base = strrchr(argv[0], '/');
  prctl(PR_SET_NAME, base ? base + 1 : argv[0], 0, 0, 0);
  close(AGENT_FD);
  for (int sig = 1; sig < NSIG; sig++) signal(sig, SIG_DFL);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  ssize_t n;
  do n = read(go, &c, 1);
  while (n < 0 && errno == EINTR);
  if (n != 1) _exit(127); /* the shim gave up: no record, nothing runs */
  if (setsid() < 0) f.stage = S_SETSID;
  else if (pts && (errno = take_terminal(pts, uid))) f.stage = S_TERMINAL;
  else if (uid != 0 && setgroups(ngroups, groups) < 0) f.stage = S_SETGROUPS;
  else if (uid != 0 && setresgid(gid, gid, gid) < 0) f.stage = S_SETGID;
  else if (uid != 0 && setresuid(uid, uid, uid) < 0) f.stage = S_SETUID;
  else if (chdir(cwd) < 0) f.stage = S_CHDIR;
  else {
    environ = envp;
    execvp(argv[0], argv);
    f.stage = S_EXEC;
  }
  f.err = errno;
  write_all(report, (const char *)&f, sizeof f);
  _exit(127);
}

int main(void) {
  static const int IGNORED[] = {SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGPIPE, SIGTSTP, SIGTTIN, SIGTTOU};
  for (size_t i = 0; i < sizeof IGNORED / sizeof IGNORED[0]; i++) signal(IGNORED[i], SIG_IGN);
  if (chdir("/") < 0) fail(S_REQUEST, errno); /* pins no mount */

  /* The request: a header line, then LEN bytes of fields. */
  char line[64];
  size_t used = 0;
  for (;;) {
    if (used == sizeof line - 1) fail(S_REQUEST, EPROTO);
    int err = read_all(AGENT_FD, line + used, 1);
    if (err) fail(S_REQUEST, err);
    if (line[used++] == '\n') break;
  }
  line[used] = '\0';
  unsigned long len;
  char tail;
  if (sscanf(line, "gproc-shim 2 %lu%c", &len, &tail) != 2 || tail != '\n' || len == 0 || len > MAX_REQUEST) fail(S_REQUEST, EPROTO);
  /* Room for the fields, then for the pointer arrays (at most one pointer per field). */
  size_t size = len + (len + 4) * sizeof(char *);
  char *buf = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (buf == MAP_FAILED) fail(S_REQUEST, errno);
  int err = read_all(AGENT_FD, buf, len);
  if (err) fail(S_REQUEST, err);
  char *p = buf, *end = buf + len;
  char **ptrs = (char **)(buf + ((len + sizeof(char *) - 1) / sizeof(char *)) * sizeof(char *));

  unsigned long uid, gid, ngroups, argc, envc, g;
  const char *dir = field(&p, end);
  if (!dir || number(&p, end, 0xfffffffe, &uid) || number(&p, end, 0xfffffffe, &gid) || number(&p, end, MAX_GROUPS, &ngroups)) fail(S_REQUEST, EPROTO);
  /* The pointer area holds, in turn: the group ids, argv and the environment. */
  gid_t *groups = (gid_t *)ptrs;
  for (unsigned long i = 0; i < ngroups; i++) {
    if (number(&p, end, 0xfffffffe, &g)) fail(S_REQUEST, EPROTO);
    groups[i] = (gid_t)g;
  }
  char **argv = (char **)(groups + ngroups + (ngroups & 1));
  const char *cwd = field(&p, end);
  const char *note = field(&p, end);
  if (!cwd || !note || number(&p, end, len, &argc) || argc == 0) fail(S_REQUEST, EPROTO);
  for (unsigned long i = 0; i < argc; i++)
    if (!(argv[i] = field(&p, end))) fail(S_REQUEST, EPROTO);
  argv[argc] = NULL;
  char **envp = argv + argc + 1;
  if (number(&p, end, len, &envc)) fail(S_REQUEST, EPROTO);
  for (unsigned long i = 0; i < envc; i++)
    if (!(envp[i] = field(&p, end))) fail(S_REQUEST, EPROTO);
  envp[envc] = NULL;
  const char *terminal = field(&p, end);
  if (!terminal || p != end) fail(S_REQUEST, EPROTO);

  /* A run with a terminal: its master side here, its slave side for the child. */
  int master = -1;
  static char pts[64];
  if (*terminal) {
    unsigned rows, cols;
    char extra;
    if (sscanf(terminal, "%u %u%c", &rows, &cols, &extra) != 2 || rows > 0xffff || cols > 0xffff) fail(S_REQUEST, EPROTO);
    struct winsize ws;
    memset(&ws, 0, sizeof ws);
    ws.ws_row = (unsigned short)rows;
    ws.ws_col = (unsigned short)cols;
    master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (master < 0 || grantpt(master) < 0 || unlockpt(master) < 0 || ptsname_r(master, pts, sizeof pts) != 0 || ioctl(master, TIOCSWINSZ, &ws) < 0)
      fail(S_TERMINAL, errno);
  }

  dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0) fail(S_STATE, errno);
  if ((err = read_line("/proc/sys/kernel/random/boot_id", boot_id, sizeof boot_id)) || !boot_id[0]) fail(S_STATE, err ? err : EPROTO);

  int go[2], report[2];
  if (pipe2(go, O_CLOEXEC) < 0 || pipe2(report, O_CLOEXEC) < 0) fail(S_FORK, errno);
  pid_t pid = fork();
  if (pid < 0) fail(S_FORK, errno);
  if (pid == 0) {
    close(go[1]);
    close(report[0]);
    child(go[0], report[1], (uid_t)uid, (gid_t)gid, ngroups, groups, cwd, argv, envp, master >= 0 ? pts : NULL);
  }
  close(go[0]);
  close(report[1]);
  /* The relay's ends of the run's pipes (a run with a terminal). */
  int in = master >= 0 ? fcntl(0, F_DUPFD_CLOEXEC, 3) : -1;
  int out = master >= 0 ? fcntl(1, F_DUPFD_CLOEXEC, 3) : -1;
  /* From here on only the command (or the relay) holds the run's pipes. */
  int null = open("/dev/null", O_RDWR | O_CLOEXEC);
  for (int fd = 0; fd < 3 && null >= 0; fd++) dup2(null, fd);
  if (null > 2) close(null);

  unsigned long long started = start_time(pid), shim_started = start_time(getpid());
  snprintf(key, sizeof key, "%s.%d.%llu", boot_id, (int)pid, started);
  int n = snprintf(head, sizeof head, "gproc-process 1\nboot %s\npid %d %llu\nuid %lu\nshim %d %llu\n%sstarted %llu\n", boot_id, (int)pid, started, uid,
                   (int)getpid(), shim_started, note, now_ms());
  err = !started ? ESRCH : (n < 0 || (size_t)n >= sizeof head) ? ENAMETOOLONG : write_record("state running\n");
  if (err) {
    kill(pid, SIGKILL); /* still the shim's code, before the exec: nothing of the command ran */
    waitpid(pid, NULL, 0);
    fail(S_STATE, err);
  }
  if (write_all(go[1], "g", 1)) {
    err = errno;
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    unlinkat(dir_fd, key, 0);
    fail(S_FORK, err);
  }
  close(go[1]);
  struct failure f;
  ssize_t got;
  do got = read(report[0], &f, sizeof f);
  while (got < 0 && errno == EINTR);
  close(report[0]);
  if (got == (ssize_t)sizeof f) {
    waitpid(pid, NULL, 0);
    unlinkat(dir_fd, key, 0);
    fail(f.stage, f.err);
  }
  snprintf(line, sizeof line, "ok %d %llu\n", (int)pid, started);
  if (master >= 0) {
    /* The relay keeps fd 3 for sizes; the answer goes first, so it reaches the agent before
     * any output. */
    write_all(AGENT_FD, line, strlen(line));
    pid_t r = fork();
    if (r == 0) {
      relay(master, in, out);
      _exit(0);
    }
    close(master);
    close(in);
    close(out);
    close(AGENT_FD);
  } else {
    answer(line);
  }
  munmap(buf, size);

  /* Its status, leaving it a zombie (WNOWAIT): its pid stays taken, and in /proc, until
   * the record says how it ended, so whoever sees it gone finds its status on disk. */
  siginfo_t info;
  memset(&info, 0, sizeof info);
  while (waitid(P_PID, (id_t)pid, &info, WEXITED | WNOWAIT) < 0)
    if (errno != EINTR) return 1; /* cannot happen: it is our child */
  char state[96];
  if (info.si_code == CLD_EXITED) snprintf(state, sizeof state, "state exited %d\nended %llu\n", info.si_status, now_ms());
  else snprintf(state, sizeof state, "state killed %d\nended %llu\n", info.si_status, now_ms());
  /* A full disk must not lose the status for good: try again for a while. */
  for (int attempt = 0; (err = write_record(state)) && attempt < 60; attempt++) sleep(1);
  waitpid(pid, NULL, 0);
  return err ? 1 : 0;
}
