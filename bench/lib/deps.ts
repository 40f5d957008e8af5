// The bench is not a workspace package, so it borrows dependencies from the
// packages that declare them (pnpm does not hoist them to the root).
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";

const root = new URL("../../", import.meta.url);
const from = (pkg: string) => createRequire(new URL(`${pkg}/package.json`, root));

async function load<T>(pkg: string, name: string): Promise<T> {
  // require.resolve honours --conditions=@torpor/source, giving src/index.ts for workspace packages.
  return (await import(pathToFileURL(from(pkg).resolve(name)).href)) as T;
}

/** ws is CommonJS: its classes hang off the default export. */
export const loadWs = async () => (await load<{ default: typeof import("ws") }>("packages/core", "ws")).default;
export const loadCore = () => load<typeof import("@torpor/core")>("examples/chat", "@torpor/core");
export const loadSqliteStorage = () => load<typeof import("@torpor/storage-sqlite")>("examples/chat", "@torpor/storage-sqlite");
export const loadBetterSqlite = async () => (await load<{ default: typeof import("better-sqlite3") }>("packages/storage-sqlite", "better-sqlite3")).default;
export const loadMiniflare = () => load<typeof import("miniflare")>("compat", "miniflare");
