/** R2's limits, as Miniflare's local R2 and Cloudflare enforce them. */
export const R2_LIMITS = {
  maxListKeys: 1_000,
  /** A list that includes metadata returns at most this many objects (R2 may return fewer to fit the metadata). */
  maxListKeysWithMetadata: 100,
  maxKeyBytes: 1024,
  /** 5 GiB - 5 MiB: the largest single upload. */
  maxValueBytes: 5_368_709_120 - 5_242_880,
  maxMetadataBytes: 2048,
  minPartBytes: 5 * 1024 * 1024,
  maxPartNumber: 10_000,
} as const;
