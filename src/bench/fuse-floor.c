/*
 * fuse-floor: the floor of a FUSE binding, for `make bench` (a test tool, not shipped).
 *
 * A minimal libfuse 2 daemon (high-level API, as fuse-native uses it: fuse_loop_mt over a
 * path-based `struct fuse_operations`) that serves, from memory, a snapshot of the files
 * `ps -ef` reads from a procfs: every <pid>/{stat,statm,status,cmdline,environ}, the
 * top-level uptime, stat, meminfo, loadavg, cpuinfo and sys/kernel/pid_max. Like the view, any
 * other top-level name that HOST_PROC has (`self`, the caller's own PID) is a link to it there,
 * so that `ps` finds itself. Every request is answered at once from memory, so a run of `ps` over
 * it costs what the kernel and libfuse cost per request and no more: what gproc's view
 * (fuse-native, answers in JavaScript) can approach, not the kernel's own procfs.
 *
 * It serves as gproc's cluster view does (src/fs/cached-view.ts): open answers ENOSYS (the
 * kernel's "no open" mode: opens and releases no longer reach the daemon, pages stay cached),
 * getattr reports each file's real size, and the mount options are given by the caller
 * (the bench passes the view's own: entry, attribute and negative timeouts, max_readahead=0).
 *
 * With HOT_MS, every request is handed, as fuse-native hands it to JavaScript, from the
 * libfuse thread that read it to one "main" thread (an eventfd write, then the libfuse thread
 * waits on a semaphore the main thread posts when it has answered), and the main thread keeps
 * polling for HOT_MS ms after each request before it sleeps, as gproc's view keeps its event
 * loop hot (src/fs/fuse.ts). That is the floor of fuse-native's design: the cost of the hand-off
 * without any JavaScript.
 *
 *   fuse-floor PROC_ROOT HOST_PROC MOUNT_POINT OPTIONS [HOT_MS]
 *     PROC_ROOT    a procfs to copy (e.g. /proc/<init>/root/proc for a PID namespace's)
 *     HOST_PROC    a procfs mounted where both this daemon and the readers see it
 *     OPTIONS      libfuse's options as fuse-native passes them (-oallow_other,entry_timeout=1,...)
 * Runs in the foreground until SIGINT/SIGTERM, then unmounts. Prints "ready N" on stdout
 * (N: files, directories and links copied) once the copy is made, before it mounts.
 * Exit status 1 on a bad argument or an unreadable PROC_ROOT.
 */
#define FUSE_USE_VERSION 26
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <pthread.h>
#include <search.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct node {
  char *path; /* "/", "/123", "/123/stat" */
  mode_t mode;
  uid_t uid;
  gid_t gid;
  struct timespec mtime;
  char *data; /* file content */
  size_t size;
  char **kids; /* names, for directories */
  size_t nkids, capkids;
};

#define MAX_NODES 200000
static struct node *nodes;
static size_t nnodes;
static struct hsearch_data table;
static const char *host_proc;

static const char *const PID_FILES[] = {"stat", "statm", "status", "cmdline", "environ"};
static const char *const TOP_FILES[] = {"uptime", "stat",    "meminfo",
                                        "loadavg", "cpuinfo", "sys/kernel/pid_max"};

static void die(const char *what) {
  perror(what);
  exit(1);
}

static struct node *find(const char *path) {
  ENTRY e = {.key = (char *)path}, *found;
  return hsearch_r(e, FIND, &found, &table) ? (struct node *)found->data : NULL;
}

static void add_kid(struct node *dir, const char *name) {
  if (dir->nkids == dir->capkids) {
    dir->capkids = dir->capkids ? 2 * dir->capkids : 8;
    dir->kids = realloc(dir->kids, dir->capkids * sizeof(char *));
    if (!dir->kids) die("realloc");
  }
  dir->kids[dir->nkids++] = strdup(name);
}

/* A new node at `path` (whose parent exists), attributes from `st`. */
static struct node *add(const char *path, const struct stat *st) {
  if (nnodes == MAX_NODES) {
    fprintf(stderr, "fuse-floor: more than %d nodes\n", MAX_NODES);
    exit(1);
  }
  struct node *n = &nodes[nnodes++];
  memset(n, 0, sizeof(*n));
  n->path = strdup(path);
  n->mode = st->st_mode;
  n->uid = st->st_uid;
  n->gid = st->st_gid;
  n->mtime = st->st_mtim;
  ENTRY e = {.key = n->path, .data = n}, *found;
  if (!hsearch_r(e, ENTER, &found, &table)) die("hsearch_r");
  if (strcmp(path, "/") != 0) {
    char *slash = strrchr(n->path, '/');
    char parent[4096];
    snprintf(parent, sizeof(parent), "%.*s", (int)(slash - n->path), n->path);
    struct node *p = find(parent[0] ? parent : "/");
    if (!p) {
      fprintf(stderr, "fuse-floor: no parent for %s\n", path);
      exit(1);
    }
    add_kid(p, slash + 1);
  }
  return n;
}

/* Reads a whole procfs file (its size in stat is 0): NULL when it cannot be read. */
static char *slurp(const char *file, size_t *size) {
  int fd = open(file, O_RDONLY);
  if (fd < 0) return NULL;
  size_t cap = 4096, len = 0;
  char *buf = malloc(cap);
  for (;;) {
    if (len == cap && !(buf = realloc(buf, cap *= 2))) die("realloc");
    ssize_t got = read(fd, buf + len, cap - len);
    if (got < 0) {
      free(buf);
      close(fd);
      return NULL;
    }
    if (got == 0) break;
    len += (size_t)got;
  }
  close(fd);
  *size = len;
  return buf;
}

/* Copies PROC_ROOT/<rel> to the node /<rel> if it can be read; makes missing directories. */
static void copy_file(const char *root, const char *rel) {
  char src[4096], path[4096];
  struct stat st;
  snprintf(src, sizeof(src), "%s/%s", root, rel);
  size_t size;
  char *data = slurp(src, &size);
  if (!data || stat(src, &st) != 0) {
    free(data);
    return;
  }
  /* Parent directories (sys, sys/kernel), with the attributes of the real ones. */
  for (const char *s = strchr(rel, '/'); s; s = strchr(s + 1, '/')) {
    snprintf(path, sizeof(path), "/%.*s", (int)(s - rel), rel);
    if (find(path)) continue;
    struct stat dst;
    snprintf(src, sizeof(src), "%s/%.*s", root, (int)(s - rel), rel);
    if (stat(src, &dst) != 0) die(src);
    add(path, &dst);
  }
  snprintf(path, sizeof(path), "/%s", rel);
  struct node *n = add(path, &st);
  n->data = data;
  n->size = size;
}

static int is_pid(const char *name) {
  for (const char *c = name; *c; c++)
    if (!isdigit((unsigned char)*c)) return 0;
  return *name != 0;
}

static void load(const char *root) {
  struct stat st;
  if (stat(root, &st) != 0) die(root);
  add("/", &st);
  for (size_t i = 0; i < sizeof(TOP_FILES) / sizeof(*TOP_FILES); i++) copy_file(root, TOP_FILES[i]);
  DIR *d = opendir(root);
  if (!d) die(root);
  struct dirent *de;
  while ((de = readdir(d))) {
    if (!is_pid(de->d_name)) continue;
    char src[4096], path[4096];
    snprintf(src, sizeof(src), "%s/%s", root, de->d_name);
    if (stat(src, &st) != 0) continue; /* gone meanwhile */
    snprintf(path, sizeof(path), "/%s", de->d_name);
    add(path, &st);
    for (size_t i = 0; i < sizeof(PID_FILES) / sizeof(*PID_FILES); i++) {
      snprintf(path, sizeof(path), "%s/%s", de->d_name, PID_FILES[i]);
      copy_file(root, path);
    }
  }
  closedir(d);
}

/* A top-level name the tree lacks, as a link into HOST_PROC: its length, or -1 if none. */
static int host_link(const char *path, char *target, size_t len) {
  struct stat st;
  if (strchr(path + 1, '/')) return -1;
  int n = snprintf(target, len, "%s%s", host_proc, path);
  return lstat(target, &st) == 0 ? n : -1;
}

static int do_getattr(const char *path, struct stat *st) {
  struct node *n = find(path);
  if (!n) {
    char target[4096];
    int len = host_link(path, target, sizeof(target));
    if (len < 0) return -ENOENT;
    memset(st, 0, sizeof(*st));
    st->st_mode = S_IFLNK | 0777;
    st->st_nlink = 1;
    st->st_size = len;
    return 0;
  }
  memset(st, 0, sizeof(*st));
  st->st_mode = n->mode;
  st->st_nlink = S_ISDIR(n->mode) ? 2 : 1;
  st->st_uid = n->uid;
  st->st_gid = n->gid;
  st->st_size = (off_t)n->size;
  st->st_mtim = st->st_atim = st->st_ctim = n->mtime;
  return 0;
}

static int do_readdir(const char *path, void *buf, fuse_fill_dir_t filler, off_t off,
                         struct fuse_file_info *fi) {
  (void)off;
  (void)fi;
  struct node *n = find(path);
  if (!n) return -ENOENT;
  if (!S_ISDIR(n->mode)) return -ENOTDIR;
  filler(buf, ".", NULL, 0);
  filler(buf, "..", NULL, 0);
  for (size_t i = 0; i < n->nkids; i++)
    if (filler(buf, n->kids[i], NULL, 0)) break;
  return 0;
}

static int do_readlink(const char *path, char *buf, size_t len) {
  if (find(path)) return -EINVAL;
  return host_link(path, buf, len) < 0 ? -ENOENT : 0;
}

/* "No open" mode, as gproc's view: see the file comment. */
static int floor_open(const char *path, struct fuse_file_info *fi) {
  (void)path;
  (void)fi;
  return -ENOSYS;
}

static int do_read(const char *path, char *buf, size_t len, off_t off,
                      struct fuse_file_info *fi) {
  (void)fi;
  struct node *n = find(path);
  if (!n) return -ENOENT;
  if (S_ISDIR(n->mode)) return -EISDIR;
  if ((size_t)off >= n->size) return 0;
  if (len > n->size - (size_t)off) len = n->size - (size_t)off;
  memcpy(buf, n->data + off, len);
  return (int)len;
}

/* The hand-off (HOT_MS given): one request, waiting on the main thread's answer. */
enum op { GETATTR, READDIR, READLINK, READ };
struct job {
  enum op op;
  const char *path;
  struct stat *st;
  char *buf;
  size_t len;
  off_t off;
  void *dirbuf;
  fuse_fill_dir_t filler;
  int result;
  sem_t done;
  struct job *next;
};
static int handoff_fd = -1; /* eventfd the main thread sleeps on */
static long hot_ns;
static pthread_mutex_t queue_lock = PTHREAD_MUTEX_INITIALIZER;
static struct job *queue;

static int answer(struct job *j) {
  switch (j->op) {
  case GETATTR:
    return do_getattr(j->path, j->st);
  case READDIR:
    return do_readdir(j->path, j->dirbuf, j->filler, j->off, NULL);
  case READLINK:
    return do_readlink(j->path, j->buf, j->len);
  case READ:
    return do_read(j->path, j->buf, j->len, j->off, NULL);
  }
  return -ENOSYS;
}

static int submit(struct job *j) {
  if (handoff_fd < 0) return answer(j);
  sem_init(&j->done, 0, 0);
  pthread_mutex_lock(&queue_lock);
  j->next = queue;
  queue = j;
  pthread_mutex_unlock(&queue_lock);
  uint64_t one = 1;
  if (write(handoff_fd, &one, sizeof(one)) != sizeof(one)) die("eventfd write");
  while (sem_wait(&j->done) != 0) {
  }
  sem_destroy(&j->done);
  return j->result;
}

static long now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1000000000L + t.tv_nsec;
}

/* The main thread: answers what is queued; polls for hot_ns after the last, then sleeps. */
static void *main_thread(void *unused) {
  (void)unused;
  long last = 0;
  for (;;) {
    uint64_t count;
    if (now_ns() - last >= hot_ns) {
      int flags = fcntl(handoff_fd, F_GETFL);
      fcntl(handoff_fd, F_SETFL, flags & ~O_NONBLOCK);
      ssize_t got = read(handoff_fd, &count, sizeof(count));
      fcntl(handoff_fd, F_SETFL, flags | O_NONBLOCK);
      if (got != sizeof(count)) continue;
    } else if (read(handoff_fd, &count, sizeof(count)) != sizeof(count)) {
      continue;
    }
    pthread_mutex_lock(&queue_lock);
    struct job *j = queue;
    queue = NULL;
    pthread_mutex_unlock(&queue_lock);
    while (j) {
      struct job *next = j->next;
      j->result = answer(j);
      sem_post(&j->done);
      j = next;
    }
    last = now_ns();
  }
  return NULL;
}

static int floor_getattr(const char *path, struct stat *st) {
  struct job j = {.op = GETATTR, .path = path, .st = st};
  return submit(&j);
}

static int floor_readdir(const char *path, void *buf, fuse_fill_dir_t filler, off_t off,
                         struct fuse_file_info *fi) {
  (void)fi;
  struct job j = {.op = READDIR, .path = path, .dirbuf = buf, .filler = filler, .off = off};
  return submit(&j);
}

static int floor_readlink(const char *path, char *buf, size_t len) {
  struct job j = {.op = READLINK, .path = path, .buf = buf, .len = len};
  return submit(&j);
}

static int floor_read(const char *path, char *buf, size_t len, off_t off,
                      struct fuse_file_info *fi) {
  (void)fi;
  struct job j = {.op = READ, .path = path, .buf = buf, .len = len, .off = off};
  return submit(&j);
}

static const struct fuse_operations ops = {
    .getattr = floor_getattr,
    .readdir = floor_readdir,
    .readlink = floor_readlink,
    .open = floor_open,
    .read = floor_read,
};

int main(int argc, char **argv) {
  if (argc != 5 && argc != 6) {
    fprintf(stderr, "usage: fuse-floor PROC_ROOT HOST_PROC MOUNT_POINT OPTIONS [HOT_MS]\n");
    return 1;
  }
  host_proc = argv[2];
  nodes = calloc(MAX_NODES, sizeof(*nodes));
  if (!nodes || !hcreate_r(2 * MAX_NODES, &table)) die("memory");
  load(argv[1]);
  if (argc == 6) {
    hot_ns = (long)(atof(argv[5]) * 1e6);
    handoff_fd = eventfd(0, EFD_NONBLOCK);
    pthread_t t;
    if (handoff_fd < 0 || pthread_create(&t, NULL, main_thread, NULL) != 0) die("hand-off");
  }
  printf("ready %zu\n", nnodes);
  fflush(stdout);
  char *fargv[] = {argv[0], argv[3], (char *)"-f", argv[4], NULL};
  return fuse_main(4, fargv, &ops, NULL);
}
