import { systemClock } from "@torpor/core";
import { z } from "zod";
import { definePlugin } from "../binding-plugin.ts";
import { bindingName, unknownKeys } from "../binding-name.ts";
import { storagePath } from "../storage-names.ts";
import { bindSharedStores } from "../shared-stores.ts";

/** One `kv_namespaces` entry, as Cloudflare documents it. */
const kvNamespaceSchema = z.looseObject({
  binding: bindingName,
  /** The namespace's id; wrangler can provision one when it is left out, so the binding name stands in for it. */
  id: z.string().min(1).optional(),
  preview_id: z.string().min(1).optional(),
  remote: z.boolean().optional(),
});

/** The parsed `kv_namespaces` key. */
export type KvConfig = z.output<typeof kvNamespaceSchema>[];

/**
 * `kv_namespaces`: each entry becomes `env.<binding>`, a {@link KvNamespace}
 * stored in `<data dir>/kv/<id>.sqlite`. Entries with the same id share it.
 */
export const kvPlugin = definePlugin<KvConfig>({
  key: "kv_namespaces",
  schema: z.array(kvNamespaceSchema),
  names: (entries) => entries.map((e) => e.binding),
  warnings(entries, file) {
    const out: string[] = [];
    entries.forEach((e, i) => {
      if (e.remote === true) out.push(`${file}: "kv_namespaces[${i}].remote" is ignored: ${e.binding} is kept locally, under the data directory.`);
      out.push(...unknownKeys(e, kvNamespaceSchema.shape, `kv_namespaces[${i}]`, file));
    });
    return out;
  },
  // The implementation is imported only when the config asks for the binding (see plugins.ts).
  async create(entries, context) {
    const clock = context.clock ?? systemClock;
    const [{ KvNamespace }, { KvStore }] = await Promise.all([import("./kv-namespace.ts"), import("./kv-store.ts")]);
    return bindSharedStores(
      entries,
      (entry) => storagePath(context.dataDir, "kv", entry.id ?? entry.binding, ".sqlite"),
      (path) => new KvStore(path),
      (store) => new KvNamespace(store, clock),
    );
  },
});
