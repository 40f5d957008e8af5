import { z } from "zod";
import { bindingName, unknownKeys } from "../binding-name.ts";
import { definePlugin } from "../binding-plugin.ts";
import { storagePath } from "../storage-names.ts";
import { bindSharedStores } from "../shared-stores.ts";

/** One `d1_databases` entry, as Cloudflare documents it. */
const d1DatabaseSchema = z.looseObject({
  binding: bindingName,
  database_name: z.string().min(1).optional(),
  database_id: z.string().min(1).optional(),
  preview_database_id: z.string().min(1).optional(),
  migrations_table: z.string().min(1).optional(),
  migrations_dir: z.string().min(1).optional(),
  migrations_pattern: z.string().min(1).optional(),
  database_internal_env: z.string().optional(),
  remote: z.boolean().optional(),
});

/** One parsed `d1_databases` entry. */
export type D1DatabaseConfig = z.output<typeof d1DatabaseSchema>;
/** The parsed `d1_databases` key. */
export type D1Config = D1DatabaseConfig[];

/**
 * The id a database is stored under locally, as `wrangler dev` and `wrangler d1 … --local`
 * choose it: `preview_database_id`, else `database_id`, else the binding name.
 */
export function d1DatabaseId(entry: D1DatabaseConfig): string {
  return entry.preview_database_id ?? entry.database_id ?? entry.binding;
}

/** Where a database lives: `<data dir>/d1/<id>.sqlite`. */
export function d1DatabasePath(dataDir: string, entry: D1DatabaseConfig): string {
  return storagePath(dataDir, "d1", d1DatabaseId(entry), ".sqlite");
}

/**
 * `d1_databases`: each entry becomes `env.<binding>`, a `D1Database` (d1-api.ts) on one SQLite
 * file per database id. Entries with the same id share it. `torpor d1 migrate` applies
 * the `migrations_dir` (default `migrations/`) to the same files.
 */
export const d1Plugin = definePlugin<D1Config>({
  key: "d1_databases",
  schema: z.array(d1DatabaseSchema),
  names: (entries) => entries.map((e) => e.binding),
  warnings(entries, file) {
    const out: string[] = [];
    entries.forEach((e, i) => {
      if (e.remote === true) out.push(`${file}: "d1_databases[${i}].remote" is ignored: ${e.binding} is kept locally, under the data directory.`);
      out.push(...unknownKeys(e, d1DatabaseSchema.shape, `d1_databases[${i}]`, file));
    });
    return out;
  },
  // The implementation is imported only when the config asks for the binding (see plugins.ts).
  async create(entries, context) {
    const [{ D1Database }, { D1Engine }] = await Promise.all([import("./d1-api.ts"), import("./d1-engine.ts")]);
    return bindSharedStores(
      entries,
      (entry) => d1DatabasePath(context.dataDir, entry),
      (path) => new D1Engine(path),
      (engine) => new D1Database(engine),
    );
  },
});
