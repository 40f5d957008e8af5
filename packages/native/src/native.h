/* The addon's capabilities, one C file each; native.c puts each on an object of its own. */
#ifndef TORPOR_NATIVE_H
#define TORPOR_NATIVE_H
#include <node_api.h>

/* socketPair, adopt, closeFd, send, receive, watch, pollStart, pollClose (fd_passing.c). */
napi_status fd_passing_define(napi_env env, napi_value target);
/* trim (malloc_trim.c). */
napi_status malloc_trim_define(napi_env env, napi_value target);

#endif
