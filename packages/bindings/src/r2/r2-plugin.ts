import { systemClock } from "@torpor/core";
import { z } from "zod";
import { bindingName, unknownKeys } from "../binding-name.ts";
import { definePlugin } from "../binding-plugin.ts";
import { storagePath } from "../storage-names.ts";
import { bindSharedStores } from "../shared-stores.ts";

/** One `r2_buckets` entry, as Cloudflare documents it. */
const r2BucketSchema = z.looseObject({
  binding: bindingName,
  bucket_name: z.string().min(1).optional(),
  preview_bucket_name: z.string().min(1).optional(),
  jurisdiction: z.string().optional(),
  remote: z.boolean().optional(),
});

/** One parsed `r2_buckets` entry. */
export type R2BucketConfig = z.output<typeof r2BucketSchema>;
/** The parsed `r2_buckets` key. */
export type R2Config = R2BucketConfig[];

/** The bucket a binding stores into locally, as `wrangler dev` picks it: `bucket_name`, else the binding name. */
export function r2BucketId(entry: R2BucketConfig): string {
  return entry.bucket_name ?? entry.binding;
}

/**
 * `r2_buckets`: each entry becomes `env.<binding>`, an `R2Bucket` (r2-bucket.ts) whose objects live in
 * `<data dir>/r2/<bucket>/` (an index database and one file per object). Entries naming the
 * same bucket share it.
 */
export const r2Plugin = definePlugin<R2Config>({
  key: "r2_buckets",
  schema: z.array(r2BucketSchema),
  names: (entries) => entries.map((e) => e.binding),
  warnings(entries, file) {
    const out: string[] = [];
    entries.forEach((e, i) => {
      if (e.remote === true) out.push(`${file}: "r2_buckets[${i}].remote" is ignored: ${e.binding} is kept locally, under the data directory.`);
      if (e.jurisdiction !== undefined) out.push(`${file}: "r2_buckets[${i}].jurisdiction" is ignored: there is one location.`);
      out.push(...unknownKeys(e, r2BucketSchema.shape, `r2_buckets[${i}]`, file));
    });
    return out;
  },
  // The implementation is imported only when the config asks for the binding (see plugins.ts).
  async create(entries, context) {
    const clock = context.clock ?? systemClock;
    const [{ BucketStore }, { R2Bucket }] = await Promise.all([import("./bucket-store.ts"), import("./r2-bucket.ts")]);
    return bindSharedStores(
      entries,
      (entry) => storagePath(context.dataDir, "r2", r2BucketId(entry)),
      (dir) => new BucketStore(dir, clock),
      (store) => new R2Bucket(store),
    );
  },
});
