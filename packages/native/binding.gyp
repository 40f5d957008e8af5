{
  "targets": [
    {
      "target_name": "torpor_native",
      "sources": ["src/native.c", "src/fd_passing.c", "src/malloc_trim.c"],
      "defines": ["NAPI_VERSION=8"],
      "cflags": ["-Wall", "-Wextra", "-O2"]
    }
  ]
}
