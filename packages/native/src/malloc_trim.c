/*
 * glibc keeps memory a process freed in its arenas: only the top of each heap goes back to the OS on its own, so a
 * heap that a burst grew stays as large as the burst made it while anything lives near its end. malloc_trim(0) also
 * gives back every whole free page inside the heaps (madvise), which nothing in Node exposes.
 */
#include <node_api.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

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

NAPI_MODULE_INIT() {
  napi_value fn;
  if (napi_create_function(env, "trim", NAPI_AUTO_LENGTH, trim, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "trim", fn) != napi_ok) return NULL;
  return exports;
}
