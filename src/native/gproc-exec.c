/*
 * gproc-exec: run a command with the cluster view as its /proc, for any user.
 *
 *   gproc-exec VIEW_DIR -- CMD ARGS...
 *
 * Installed set-user-ID root by `make build` (in the manner of fusermount and bwrap), it
 * does one privileged thing, in a mount namespace of its own, and drops root for good:
 *
 *  1. refuses unless it runs with euid 0 and /proc is the kernel's procfs (it reads the
 *     mount table from it and names the view through its magic links);
 *  2. unshare(CLONE_NEWNS) and makes every mount private, so nothing propagates back;
 *  3. opens VIEW_DIR (O_PATH, in the new namespace) and checks the opened object is a
 *     genuine gproc view: the root of its mount (statx), that mount's line in
 *     /proc/self/mountinfo says fstype "fuse.gproc", root "/" and "user_id=0" in the
 *     super options, and its superblock is FUSE's (fstatfs). The fstype is chosen by whoever mounts (any user
 *     can mount fuse.gproc with fusermount), but user_id is set by the kernel to the
 *     mounter's uid: only root's gproc mount passes. Path lookup is done as root; that
 *     only tells the caller whether a path is a gproc view;
 *  4. bind-mounts that very object over /proc through /proc/self/fd/N (no path is looked
 *     up twice, so nothing can be swapped in between);
 *  5. sets no_new_privs (nothing run inside gains privileges from set-user-ID or file
 *     capabilities: a set-user-ID program under a fake /proc would be a hazard), then
 *     setresgid/setresuid to the real ids and checks that root cannot be regained.
 *     Supplementary groups are the caller's (a set-user-ID exec keeps them);
 *  6. unwraps the environment and execs CMD: exit 127 if it is not found, 126 if it
 *     cannot be run, as a shell does.
 * Any failure before the exec prints one line "gproc-exec: ..." and exits 125.
 *
 * Environment: glibc removes "unsecure" variables from a set-user-ID program's environment
 * (sysdeps/generic/unsecvars.h): GCONV_PATH, GETCONF_DIR, HOSTALIASES, LD_* (LD_PRELOAD,
 * LD_LIBRARY_PATH, LD_AUDIT, ...), LOCALDOMAIN, LOCPATH, MALLOC_TRACE, NIS_PATH, NLSPATH,
 * RESOLV_HOST_CONF, RES_OPTIONS, TMPDIR, TZDIR (and it filters GLIBC_TUNABLES and drops
 * MALLOC_CHECK_). So the caller passes any such variable wrapped:
 * GPROC_ENV_<NAME>=value becomes <NAME>=value (replacing a <NAME> already there) and the
 * wrapped one is removed. This happens after root is dropped, so it only affects CMD,
 * which runs as the caller; `gproc exec` wraps LD_PRELOAD (gproc-kill.so) this way.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#define WRAP "GPROC_ENV_"
#define WRAP_LEN (sizeof WRAP - 1)

extern char **environ;

static void die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("gproc-exec: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  exit(125);
}

/* True when the comma-separated list `opts` holds exactly `opt`. */
static int has_option(char *opts, const char *opt) {
  char *save = NULL;
  for (char *o = strtok_r(opts, ",", &save); o; o = strtok_r(NULL, ",", &save))
    if (strcmp(o, opt) == 0) return 1;
  return 0;
}

/* Checks the mountinfo line of mount `id` (proc(5): mount id, parent id, major:minor,
 * root, mount point, options, optional fields..., "-", fstype, source, super options).
 * Paths are escaped (a space is \040), so fields split on single spaces. */
static void check_mount(unsigned long long id, const char *dir) {
  FILE *f = fopen("/proc/self/mountinfo", "re");
  if (!f) die("cannot read /proc/self/mountinfo: %s", strerror(errno));
  char *line = NULL;
  size_t cap = 0;
  while (getline(&line, &cap, f) > 0) {
    line[strcspn(line, "\n")] = '\0';
    char *save = NULL, *field[6], *fstype = NULL, *super = NULL;
    int n = 0;
    while (n < 6 && (field[n] = strtok_r(n ? NULL : line, " ", &save))) n++;
    if (n < 6 || strtoull(field[0], NULL, 10) != id) continue;
    for (char *w = strtok_r(NULL, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
      if (strcmp(w, "-") != 0) continue; /* optional fields end at "-" */
      fstype = strtok_r(NULL, " ", &save);
      if (fstype && strtok_r(NULL, " ", &save)) super = strtok_r(NULL, " ", &save); /* after the source */
      break;
    }
    if (!fstype || !super) die("cannot parse the mountinfo line of %s", dir);
    if (strcmp(fstype, "fuse.gproc") != 0) die("%s is a %s mount, not a gproc view", dir, fstype);
    if (strcmp(field[3], "/") != 0) die("%s mounts part of a filesystem, not a whole gproc view", dir);
    if (!has_option(super, "user_id=0")) die("%s was not mounted by root (gproc views are)", dir);
    free(line);
    if (fclose(f) != 0) die("cannot read /proc/self/mountinfo: %s", strerror(errno));
    return;
  }
  if (ferror(f)) die("cannot read /proc/self/mountinfo: %s", strerror(errno));
  die("%s: mount %llu is not in /proc/self/mountinfo", dir, id);
}

/* Moves GPROC_ENV_<NAME>=v to <NAME>=v in a new environment (see the top of the file). */
static void unwrap_environment(void) {
  size_t n = 0, k = 0;
  while (environ[n]) n++;
  char **env = calloc(n + 1, sizeof *env);
  if (!env) die("out of memory");
  for (size_t i = 0; i < n; i++) {
    char *e = environ[i];
    if (strncmp(e, WRAP, WRAP_LEN) == 0) {
      if (e[WRAP_LEN] != '=' && strchr(e + WRAP_LEN, '=')) env[k++] = e + WRAP_LEN;
      continue;
    }
    size_t name = strcspn(e, "=");
    int replaced = 0;
    for (size_t j = 0; j < n && !replaced; j++) /* is there a GPROC_ENV_<this name>? */
      replaced = strncmp(environ[j], WRAP, WRAP_LEN) == 0 && strncmp(environ[j] + WRAP_LEN, e, name + 1) == 0;
    if (!replaced) env[k++] = e;
  }
  environ = env;
}

int main(int argc, char **argv) {
  if (argc < 4 || strcmp(argv[2], "--") != 0) die("usage: gproc-exec VIEW_DIR -- CMD [ARGS...]");
  const char *dir = argv[1];
  uid_t uid = getuid();
  gid_t gid = getgid();
  if (geteuid() != 0) {
    if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1) die("no_new_privs is set (already inside gproc exec?)");
    die("not set-user-ID root: run \"make build\" as root");
  }
  struct statfs fs;
  if (statfs("/proc", &fs) != 0 || fs.f_type != PROC_SUPER_MAGIC) die("/proc is not the kernel's procfs (already inside gproc exec?)");

  if (unshare(CLONE_NEWNS) != 0) die("unshare(CLONE_NEWNS): %s", strerror(errno));
  if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) die("making mounts private: %s", strerror(errno));

  int view = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (view < 0) die("%s: %s", dir, strerror(errno));
  /* Nothing asks the filesystem anything until the mount table says it is root's gproc
   * view: a FUSE mount made by someone else could leave a request unanswered for ever.
   * Mask 0 and DONT_SYNC: FUSE answers without its daemon (even to a caller its mount does
   * not allow); the VFS adds the mount id and the mount-root attribute itself. */
  struct statx stx;
  if (statx(view, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW | AT_STATX_DONT_SYNC, 0, &stx) != 0) die("%s: statx: %s", dir, strerror(errno));
  if (!(stx.stx_mask & STATX_MNT_ID) || !(stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT)) die("statx gives no mount id (Linux 5.8 or later is needed)");
  if (!(stx.stx_attributes & STATX_ATTR_MOUNT_ROOT)) die("%s is not a mount point, so not a gproc view", dir);
  check_mount(stx.stx_mnt_id, dir);
  /* The kernel's word on the superblock, besides the mount table's text. */
  if (fstatfs(view, &fs) != 0) die("%s: fstatfs: %s", dir, strerror(errno));
  if (fs.f_type != FUSE_SUPER_MAGIC) die("%s is not a FUSE mount, so not a gproc view", dir);

  char source[32];
  snprintf(source, sizeof source, "/proc/self/fd/%d", view);
  if (mount(source, "/proc", NULL, MS_BIND, NULL) != 0) die("bind-mounting %s over /proc: %s", dir, strerror(errno));
  if (close(view) != 0) die("close: %s", strerror(errno));

  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) die("PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
  if (setresgid(gid, gid, gid) != 0) die("setresgid: %s", strerror(errno));
  if (setresuid(uid, uid, uid) != 0) die("setresuid: %s", strerror(errno));
  if (uid != 0 && (setuid(0) == 0 || geteuid() == 0)) die("root could be regained after dropping it");

  unwrap_environment();
  execvp(argv[3], argv + 3);
  int err = errno;
  fprintf(stderr, "gproc-exec: %s: %s\n", argv[3], strerror(err));
  return err == ENOENT ? 127 : 126;
}
