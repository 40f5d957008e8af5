/*
 * Passing many descriptors per message between cluster processes: a Unix
 * SOCK_SEQPACKET socket pair, sendmsg/recvmsg with SCM_RIGHTS (up to
 * FDP_MAX_FDS descriptors per packet), and a libuv poll handle on the
 * process's own event loop to learn when a socket is readable or writable.
 * Every call is non-blocking: a send that would block returns false, a read
 * with nothing queued returns null, and the caller waits for the poll.
 *
 * Node's IPC passes one descriptor per message and sends the next only once
 * the receiver acknowledged it (a process round trip per socket); this is for
 * moving thousands of sockets at once (packages/cli/src/cluster/fd-channel.ts).
 * Plain C against node_api.h and uv.h, so it builds against any Node >= 20
 * headers without a C++ toolchain's extras and keeps one ABI across versions.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <node_api.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <uv.h>

#include "native.h"

/* The kernel's limit is SCM_MAX_FD (253) per message. */
#define FDP_MAX_FDS 253

#define CHECK(call)                                          \
  do {                                                       \
    if ((call) != napi_ok) {                                 \
      napi_throw_error(env, NULL, "fd-passing: " #call);     \
      return NULL;                                           \
    }                                                        \
  } while (0)

static napi_value throw_errno(napi_env env, const char* syscall, int err) {
  char message[160];
  snprintf(message, sizeof message, "%s failed: %s", syscall, strerror(err));
  napi_value msg, error, code, num, name;
  napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &msg);
  napi_create_error(env, NULL, msg, &error);
  // libuv has no name for ETOOMANYREFS (the sender's user has more descriptors in flight than its open-files
  // limit), and the channel must tell it from a broken peer: it waits and sends again.
  napi_create_string_utf8(env, err == ETOOMANYREFS ? "ETOOMANYREFS" : uv_err_name(-err), NAPI_AUTO_LENGTH, &code);
  napi_set_named_property(env, error, "code", code);
  napi_create_int32(env, -err, &num);
  napi_set_named_property(env, error, "errno", num);
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &name);
  napi_set_named_property(env, error, "syscall", name);
  napi_throw(env, error);
  return NULL;
}

static int get_fd(napi_env env, napi_value value, int32_t* fd) {
  if (napi_get_value_int32(env, value, fd) != napi_ok || *fd < 0) {
    napi_throw_type_error(env, NULL, "fd-passing: a descriptor must be a non-negative integer");
    return 0;
  }
  return 1;
}

/* The call's first `n` arguments, the first of them a descriptor; 0 (with an exception pending) if they are not there. */
static int fd_args(napi_env env, napi_callback_info info, size_t n, napi_value* argv, int32_t* fd) {
  size_t argc = n;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < n) {
    napi_throw_type_error(env, NULL, "fd-passing: missing arguments");
    return 0;
  }
  return get_fd(env, argv[0], fd);
}

/* A typed array of `type` (its data and element count); 0 (with a TypeError pending) if `value` is not one. */
static int typed_array(napi_env env, napi_value value, napi_typedarray_type type, void** data, size_t* count, const char* what) {
  napi_typedarray_type actual;
  if (napi_get_typedarray_info(env, value, &actual, count, data, NULL, NULL) != napi_ok || actual != type) {
    napi_throw_type_error(env, NULL, what);
    return 0;
  }
  return 1;
}

/* One packet's message header: its bytes, and room for FDP_MAX_FDS descriptors. */
typedef struct {
  struct msghdr msg;
  struct iovec iov;
  union {
    char buf[CMSG_SPACE(sizeof(int) * FDP_MAX_FDS)];
    struct cmsghdr align;
  } control;
} packet_t;

static void packet_init(packet_t* p, void* data, size_t length) {
  memset(p, 0, sizeof *p);
  p->iov.iov_base = data;
  p->iov.iov_len = length;
  p->msg.msg_iov = &p->iov;
  p->msg.msg_iovlen = 1;
  p->msg.msg_control = p->control.buf;
  p->msg.msg_controllen = sizeof p->control.buf;
}

static int set_flags(int fd) {
  int fl = fcntl(fd, F_GETFL);
  if (fl == -1 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1) return errno;
  int fdfl = fcntl(fd, F_GETFD);
  if (fdfl == -1 || fcntl(fd, F_SETFD, fdfl | FD_CLOEXEC) == -1) return errno;
  return 0;
}

/* socketPair(): [fd, fd], a connected SOCK_SEQPACKET pair, both non-blocking and close-on-exec. */
static napi_value socket_pair(napi_env env, napi_callback_info info) {
  (void)info;
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == -1) return throw_errno(env, "socketpair", errno);
  napi_value result, a, b;
  CHECK(napi_create_array_with_length(env, 2, &result));
  CHECK(napi_create_int32(env, sv[0], &a));
  CHECK(napi_create_int32(env, sv[1], &b));
  CHECK(napi_set_element(env, result, 0, a));
  CHECK(napi_set_element(env, result, 1, b));
  return result;
}

/* adopt(fd): makes an inherited descriptor non-blocking and close-on-exec (a child this process spawns must not hold it). */
static napi_value adopt(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int32_t fd;
  if (!fd_args(env, info, 1, argv, &fd)) return NULL;
  int err = set_flags(fd);
  if (err != 0) return throw_errno(env, "fcntl", err);
  return NULL;
}

/* closeFd(fd) */
static napi_value close_fd(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int32_t fd;
  if (!fd_args(env, info, 1, argv, &fd)) return NULL;
  if (close(fd) == -1 && errno != EINTR) return throw_errno(env, "close", errno);
  return NULL;
}

/*
 * send(fd, bytes, fds): one packet with `bytes` and the descriptors in `fds` (an Int32Array, at most 253).
 * true: sent (the receiver now holds its own copies; the caller closes its own); false: the peer's queue is full,
 * try again once writable. Throws on any other error (EPIPE: the peer is gone).
 */
static napi_value send_packet(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  int32_t fd;
  void* data;
  size_t length;
  void* fds_data;
  size_t count;
  if (!fd_args(env, info, 3, argv, &fd)) return NULL;
  if (!typed_array(env, argv[1], napi_uint8_array, &data, &length, "fd-passing: bytes must be a Uint8Array")) return NULL;
  if (!typed_array(env, argv[2], napi_int32_array, &fds_data, &count, "fd-passing: fds must be an Int32Array")) return NULL;
  if (count > FDP_MAX_FDS) {
    napi_throw_range_error(env, NULL, "fd-passing: at most 253 descriptors per packet");
    return NULL;
  }
  if (length == 0) {
    napi_throw_range_error(env, NULL, "fd-passing: a packet must carry bytes (an empty one reads as the end)");
    return NULL;
  }
  packet_t p;
  packet_init(&p, data, length);
  if (count > 0) {
    p.msg.msg_controllen = CMSG_SPACE(sizeof(int) * count);
    struct cmsghdr* cmsg = CMSG_FIRSTHDR(&p.msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof(int) * count);
    memcpy(CMSG_DATA(cmsg), fds_data, sizeof(int) * count);
  } else {
    p.msg.msg_control = NULL;
    p.msg.msg_controllen = 0;
  }
  ssize_t n;
  do n = sendmsg(fd, &p.msg, MSG_NOSIGNAL | MSG_DONTWAIT);
  while (n == -1 && errno == EINTR);
  napi_value result;
  if (n == -1) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      CHECK(napi_get_boolean(env, false, &result));
      return result;
    }
    return throw_errno(env, "sendmsg", errno);
  }
  CHECK(napi_get_boolean(env, true, &result));
  return result;
}

/*
 * receive(fd, buffer): reads one packet into `buffer` (a Uint8Array as large as the largest packet).
 * null: nothing queued. Else { length, fds } (fds: the descriptors it carried, close-on-exec); length 0 is the
 * end (the peer closed). A packet larger than `buffer`, or with more descriptors than fit, is an error (its
 * descriptors are closed).
 */
static napi_value receive_packet(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int32_t fd;
  void* data;
  size_t length;
  if (!fd_args(env, info, 2, argv, &fd)) return NULL;
  if (!typed_array(env, argv[1], napi_uint8_array, &data, &length, "fd-passing: buffer must be a Uint8Array")) return NULL;
  packet_t p;
  packet_init(&p, data, length);
  ssize_t n;
  do n = recvmsg(fd, &p.msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
  while (n == -1 && errno == EINTR);
  napi_value result;
  if (n == -1) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      CHECK(napi_get_null(env, &result));
      return result;
    }
    return throw_errno(env, "recvmsg", errno);
  }
  int received[FDP_MAX_FDS];
  size_t count = 0;
  for (struct cmsghdr* cmsg = CMSG_FIRSTHDR(&p.msg); cmsg != NULL; cmsg = CMSG_NXTHDR(&p.msg, cmsg)) {
    if (cmsg->cmsg_level != SOL_SOCKET || cmsg->cmsg_type != SCM_RIGHTS) continue;
    size_t k = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    int* fds = (int*)CMSG_DATA(cmsg);
    for (size_t i = 0; i < k; i++) {
      if (count < FDP_MAX_FDS) received[count++] = fds[i];
      else close(fds[i]);
    }
  }
  if (p.msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
    for (size_t i = 0; i < count; i++) close(received[i]);
    napi_throw_range_error(env, NULL, (p.msg.msg_flags & MSG_TRUNC) ? "fd-passing: a packet larger than the buffer (cut)" : "fd-passing: descriptors cut from a packet");
    return NULL;
  }
  napi_value fds_array, len, value;
  CHECK(napi_create_object(env, &result));
  CHECK(napi_create_array_with_length(env, count, &fds_array));
  for (size_t i = 0; i < count; i++) {
    CHECK(napi_create_int32(env, received[i], &value));
    CHECK(napi_set_element(env, fds_array, (uint32_t)i, value));
  }
  CHECK(napi_create_uint32(env, (uint32_t)n, &len));
  CHECK(napi_set_named_property(env, result, "length", len));
  CHECK(napi_set_named_property(env, result, "fds", fds_array));
  return result;
}

/* A poll handle on the process's event loop: calls back (status, events) while the descriptor is ready. */
typedef struct {
  uv_poll_t poll;
  napi_env env;
  napi_ref callback;
  napi_async_context context;
  int closed;
} watcher_t;

static void on_poll(uv_poll_t* handle, int status, int events) {
  watcher_t* w = (watcher_t*)handle->data;
  napi_env env = w->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value callback, global, argv[2];
  if (napi_get_reference_value(env, w->callback, &callback) == napi_ok && callback != NULL) {
    napi_get_global(env, &global);
    napi_create_int32(env, status, &argv[0]);
    napi_create_int32(env, (events & UV_READABLE ? 1 : 0) | (events & UV_WRITABLE ? 2 : 0) | (events & UV_DISCONNECT ? 4 : 0), &argv[1]);
    /* make_callback runs the microtasks and nextTicks the callback queued, as any I/O callback of Node's. */
    if (napi_make_callback(env, w->context, global, callback, 2, argv, NULL) == napi_pending_exception) {
      napi_value error;
      napi_get_and_clear_last_exception(env, &error);
      napi_fatal_exception(env, error);
    }
  }
  napi_close_handle_scope(env, scope);
}

static void on_closed(uv_handle_t* handle) {
  watcher_t* w = (watcher_t*)handle->data;
  napi_delete_reference(w->env, w->callback);
  napi_async_destroy(w->env, w->context);
  free(w);
}

static int get_watcher(napi_env env, napi_value value, watcher_t** w) {
  if (napi_get_value_external(env, value, (void**)w) != napi_ok || *w == NULL) {
    napi_throw_type_error(env, NULL, "fd-passing: not a watcher");
    return 0;
  }
  if ((*w)->closed) {
    napi_throw_error(env, NULL, "fd-passing: the watcher is closed");
    return 0;
  }
  return 1;
}

/* watch(fd, callback): a stopped watcher (start it with pollStart). It does not keep the process alive. */
static napi_value watch(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int32_t fd;
  if (!fd_args(env, info, 2, argv, &fd)) return NULL;
  napi_valuetype kind;
  CHECK(napi_typeof(env, argv[1], &kind));
  if (kind != napi_function) {
    napi_throw_type_error(env, NULL, "fd-passing: the callback must be a function");
    return NULL;
  }
  uv_loop_t* loop;
  CHECK(napi_get_uv_event_loop(env, &loop));
  watcher_t* w = calloc(1, sizeof *w);
  if (w == NULL) return throw_errno(env, "calloc", ENOMEM);
  int err = uv_poll_init(loop, &w->poll, fd);
  if (err != 0) {
    free(w);
    return throw_errno(env, "uv_poll_init", -err);
  }
  w->env = env;
  w->poll.data = w;
  uv_unref((uv_handle_t*)&w->poll);
  napi_value resource, name, result;
  napi_create_object(env, &resource);
  napi_create_string_utf8(env, "torpor:fd-passing", NAPI_AUTO_LENGTH, &name);
  napi_create_reference(env, argv[1], 1, &w->callback);
  napi_async_init(env, resource, name, &w->context);
  /* Freed when closed (pollClose), not by the garbage collector: libuv owns it until its close callback. */
  CHECK(napi_create_external(env, w, NULL, NULL, &result));
  return result;
}

/* pollStart(watcher, events): 1 readable, 2 writable, 3 both; 0 stops. */
static napi_value poll_start(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  watcher_t* w;
  int32_t events;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2 || !get_watcher(env, argv[0], &w)) return NULL;
  CHECK(napi_get_value_int32(env, argv[1], &events));
  int flags = (events & 1 ? UV_READABLE : 0) | (events & 2 ? UV_WRITABLE : 0);
  int err = flags == 0 ? uv_poll_stop(&w->poll) : uv_poll_start(&w->poll, flags | UV_DISCONNECT, on_poll);
  if (err != 0) return throw_errno(env, "uv_poll_start", -err);
  return NULL;
}

/* pollClose(watcher): stops it for good (before its descriptor is closed). */
static napi_value poll_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  watcher_t* w;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1 || !get_watcher(env, argv[0], &w)) return NULL;
  w->closed = 1;
  uv_poll_stop(&w->poll);
  uv_close((uv_handle_t*)&w->poll, on_closed);
  return NULL;
}

napi_status fd_passing_define(napi_env env, napi_value target) {
  napi_property_descriptor props[] = {
      {"socketPair", NULL, socket_pair, NULL, NULL, NULL, napi_enumerable, NULL},
      {"adopt", NULL, adopt, NULL, NULL, NULL, napi_enumerable, NULL},
      {"closeFd", NULL, close_fd, NULL, NULL, NULL, napi_enumerable, NULL},
      {"send", NULL, send_packet, NULL, NULL, NULL, napi_enumerable, NULL},
      {"receive", NULL, receive_packet, NULL, NULL, NULL, napi_enumerable, NULL},
      {"watch", NULL, watch, NULL, NULL, NULL, napi_enumerable, NULL},
      {"pollStart", NULL, poll_start, NULL, NULL, NULL, napi_enumerable, NULL},
      {"pollClose", NULL, poll_close, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  return napi_define_properties(env, target, sizeof props / sizeof props[0], props);
}
