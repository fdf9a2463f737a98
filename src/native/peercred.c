/*
 * peercred.node: who is at the other end of a Unix socket, as the kernel saw it.
 *
 * peerCredentials(fd) returns { uid, gid, pid, groups } for a connected AF_UNIX socket:
 * uid, gid and pid from getsockopt(SO_PEERCRED), the supplementary groups from
 * getsockopt(SO_PEERGROUPS). The kernel records both when the peer called connect(2) (or
 * socketpair(2)), so a peer cannot lie about them, and a later setuid() in the peer does
 * not change them. The pid is in the caller's PID namespace (0 when the peer's is not
 * visible from here).
 *
 * Errors throw an Error whose `code` is the errno name: EBADF for a descriptor that is
 * not open, ENOTSOCK for one that is not a socket, ENODATA for a socket the kernel holds no
 * credentials for. That last case is a TCP (or unconnected) socket: there Linux does not
 * fail SO_PEERCRED but answers pid 0, uid and gid -1 ("nobody known"), and fails
 * SO_PEERGROUPS with ENODATA; both are reported as ENODATA so no caller can mistake -1 for
 * a user.
 *
 * Built without node-gyp: cc -shared -fPIC -I/usr/include/node (see the Makefile).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <node_api.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>

/* Throws Error(message) with `code` set to the errno name; returns NULL for the caller. */
static napi_value throw_errno(napi_env env, int err, const char *what) {
  const char *name = strerrorname_np(err);
  char msg[160];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));
  napi_throw_error(env, name ? name : "EUNKNOWN", msg);
  return NULL;
}

/* Sets obj[key] = n (an unsigned 32-bit id); false when N-API failed (an error is pending). */
static int set_u32(napi_env env, napi_value obj, const char *key, uint32_t n) {
  napi_value v;
  return napi_create_uint32(env, n, &v) == napi_ok && napi_set_named_property(env, obj, key, v) == napi_ok;
}

static napi_value peer_credentials(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_valuetype type;
  int32_t fd;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc < 1 || napi_typeof(env, argv[0], &type) != napi_ok || type != napi_number ||
      napi_get_value_int32(env, argv[0], &fd) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "peerCredentials(fd): fd must be a number");
    return NULL;
  }

  struct ucred cred;
  socklen_t len = sizeof cred;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return throw_errno(env, errno, "getsockopt(SO_PEERCRED)");
  if (cred.pid == 0 && cred.uid == (uid_t)-1 && cred.gid == (gid_t)-1) {
    return throw_errno(env, ENODATA, "getsockopt(SO_PEERCRED): the socket has no peer credentials");
  }

  /* SO_PEERGROUPS fails with ERANGE and sets len to the size needed when the buffer is too
   * small: 64 groups fit on the stack; a bigger list (up to NGROUPS_MAX, 65536) is retried
   * once in a buffer of the size the kernel asked for. */
  gid_t small[64], *groups = small;
  len = sizeof small;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) != 0) {
    if (errno != ERANGE) return throw_errno(env, errno, "getsockopt(SO_PEERGROUPS)");
    groups = malloc(len);
    if (!groups) return throw_errno(env, ENOMEM, "peerCredentials");
    if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) != 0) {
      int err = errno;
      free(groups);
      return throw_errno(env, err, "getsockopt(SO_PEERGROUPS)");
    }
  }
  size_t count = len / sizeof(gid_t);

  napi_value result = NULL, list;
  int ok = napi_create_object(env, &result) == napi_ok && set_u32(env, result, "uid", cred.uid) &&
           set_u32(env, result, "gid", cred.gid) && set_u32(env, result, "pid", (uint32_t)cred.pid) &&
           napi_create_array_with_length(env, count, &list) == napi_ok;
  for (size_t i = 0; ok && i < count; i++) {
    napi_value g;
    ok = napi_create_uint32(env, groups[i], &g) == napi_ok && napi_set_element(env, list, (uint32_t)i, g) == napi_ok;
  }
  ok = ok && napi_set_named_property(env, result, "groups", list) == napi_ok;
  if (groups != small) free(groups);
  return ok ? result : NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_value fn;
  if (napi_create_function(env, "peerCredentials", NAPI_AUTO_LENGTH, peer_credentials, NULL, &fn) != napi_ok ||
      napi_set_named_property(env, exports, "peerCredentials", fn) != napi_ok) {
    return NULL;
  }
  return exports;
}

NAPI_MODULE(peercred, init)
