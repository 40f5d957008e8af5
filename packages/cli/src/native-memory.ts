/**
 * The processes that serve (a cluster's supervisor and workers, a single-process server) give the native memory
 * their idle collections free back to the OS: glibc keeps it in its malloc arenas otherwise (bench/RESULTS.md,
 * "Memory comes back", session memory-6). `@torpor/native` is an optional dependency (a native addon built at
 * install); where it is missing or did not build, nothing is trimmed.
 */
export async function trimAfterIdleCollections(): Promise<void> {
  const { releaseNativeMemoryWith } = await import("@torpor/core/idle-collector");
  const { mallocTrim } = await (await import("./native.ts")).loadNative();
  releaseNativeMemoryWith(mallocTrim.ok ? () => mallocTrim.binding.trim() : null);
}
