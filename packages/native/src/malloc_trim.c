/*
 * glibc keeps memory a process freed in its arenas: only the top of each heap goes back to the OS on its own, so a
 * heap that a burst grew stays as large as the burst made it while anything lives near its end. malloc_trim(0) also
 * gives back every whole free page inside the heaps (madvise), which nothing in Node exposes.
 */
#include <node_api.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "native.h"

/* trim(): true if memory went back to the OS, false if none did (or the C library has no malloc_trim). */
static napi_value trim(napi_env env, napi_callback_info info) {
  (void)info;
  int released = 0;
#if defined(__GLIBC__)
  released = malloc_trim(0);
#endif
  napi_value result;
  napi_get_boolean(env, released != 0, &result);
  return result;
}

napi_status malloc_trim_define(napi_env env, napi_value target) {
  napi_value fn;
  napi_status status = napi_create_function(env, "trim", NAPI_AUTO_LENGTH, trim, NULL, &fn);
  return status != napi_ok ? status : napi_set_named_property(env, target, "trim", fn);
}
