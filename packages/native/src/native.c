/*
 * The one module of @torpor/native: exports.fdPassing (fd_passing.c) and exports.mallocTrim (malloc_trim.c),
 * each an object of its own so that the loader (index.ts) offers each capability on its own terms. One
 * shared object rather than one per capability: a process loads it once, and it is built or not as a whole
 * (node-gyp stops at the first target that fails, so two targets would not fail apart either).
 */
#include <node_api.h>

#include "native.h"

static int define_on(napi_env env, napi_value exports, const char* name, napi_status (*define)(napi_env, napi_value)) {
  napi_value target;
  return napi_create_object(env, &target) == napi_ok && define(env, target) == napi_ok &&
         napi_set_named_property(env, exports, name, target) == napi_ok;
}

NAPI_MODULE_INIT() {
  if (!define_on(env, exports, "fdPassing", fd_passing_define)) return NULL;
  if (!define_on(env, exports, "mallocTrim", malloc_trim_define)) return NULL;
  return exports;
}
