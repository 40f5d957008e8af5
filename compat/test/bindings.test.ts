// Differential test of the data bindings (KV, D1, R2): the same Worker
// (bindings/worker.js) on workerd through miniflare, and on Torpor through the
// CLI reading bindings/wrangler.jsonc; each route's observations must be
// equal but for the known differences below (each names its row of
// docs/compatibility.md and pins both sides' values, as in differential.test.ts).
//
// Reading the observations by eye: compat/out/bindings-{workerd,torpor}.json.
import { mkdirSync, writeFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getRoute, startTorporBindings, startWorkerdBindings } from "./bindings-harness.ts";
import type { Target } from "./harness.ts";
import { type KnownDifference, maskKnown } from "./known-differences.ts";

/** D1 rows_read / rows_written: local D1 runs on a Durable Object's SQLite,
 * where workerd counts b-tree steps (index entries, seeks); Torpor counts rows
 * returned and rows changed, as for ctx.storage.sql (differential.test.ts's
 * SQL_COUNTERS). Equal for plain reads and for deletes. */
const D1_COUNTERS = "compatibility.md, Bindings, row 'D1' (says differs): rows_read/rows_written approximate workerd's b-tree counts";
/** A _cf_ name in D1 SQL: local workerd looks the table up first ("no such
 * table: _cf_KV"; for a table that exists, its authorizer names the column);
 * Torpor refuses the statement before it runs with SQLite's generic "not
 * authorized", as for ctx.storage.sql. */
const D1_RESERVED_TABLES = "compatibility.md, Bindings, row 'D1' (says differs): _cf_ names refused with 'not authorized: SQLITE_AUTH'";

/** A range over an empty object: Miniflare's local R2 fails inside ("Unspecified
 * error", no R2 error code); Torpor answers as for any unsatisfiable range. */
const R2_EMPTY_RANGE =
  "compatibility.md, Bindings, row 'R2' (says differs): a range of an empty object is unsatisfiable (10039); local R2 fails with 'Unspecified error (0)'";

// biome-ignore format: one known difference per line
const KNOWN: KnownDifference[] = [
  { doc: D1_COUNTERS, path: ["d1", "body", "counters"], workerd: {"ok": true, "promise": true, "value": {"insert": [0, 3], "selectAll": [3, 0], "selectOne": [1, 0], "update": [3, 2], "delete": [1, 1]}}, torpor: {"ok": true, "promise": true, "value": {"insert": [3, 3], "selectAll": [3, 0], "selectOne": [1, 0], "update": [2, 2], "delete": [1, 1]}} },
  { doc: D1_RESERVED_TABLES, path: ["d1", "body", "cfTable"], workerd: {"ok": false, "ctor": "Error", "name": "Error", "message": "D1_ERROR: no such table: _cf_KV: SQLITE_ERROR"}, torpor: {"ok": false, "ctor": "Error", "name": "Error", "message": "D1_ERROR: not authorized: SQLITE_AUTH"} },
  { doc: R2_EMPTY_RANGE, path: ["r2", "body", "rangeOnEmpty"], workerd: {"ok": false, "ctor": "Error", "name": "Error", "message": "get: Unspecified error (0)"}, torpor: {"ok": false, "ctor": "Error", "name": "Error", "message": "get: The requested range is not satisfiable (10039)"} },
];

const ROUTES = ["kv", "d1", "r2"] as const;

let workerd: Target;
let torpor: Target;
const observed: { workerd: Record<string, unknown>; torpor: Record<string, unknown> } = { workerd: {}, torpor: {} };

beforeAll(async () => {
  [workerd, torpor] = await Promise.all([startWorkerdBindings(), startTorporBindings()]);
  for (const route of ROUTES) {
    [observed.workerd[route], observed.torpor[route]] = await Promise.all([getRoute(workerd.url, `/${route}`), getRoute(torpor.url, `/${route}`)]);
  }
  const out = new URL("../out/", import.meta.url);
  mkdirSync(out, { recursive: true });
  writeFileSync(new URL("bindings-workerd.json", out), JSON.stringify({ observations: observed.workerd, logs: workerd.logs }, null, 2));
  writeFileSync(new URL("bindings-torpor.json", out), JSON.stringify({ observations: observed.torpor, logs: torpor.logs }, null, 2));
}, 180_000);

afterAll(async () => {
  await Promise.all([workerd?.stop(), torpor?.stop()]);
});

describe("the same Worker's bindings on workerd and on Torpor", () => {
  for (const route of ROUTES) {
    it(route, () => {
      const w = structuredClone(observed.workerd[route]) as { status: number };
      const t = structuredClone(observed.torpor[route]) as { status: number };
      expect(w.status, "workerd run").toBe(200);
      expect(t.status, "torpor run").toBe(200);
      maskKnown(KNOWN, route, w, t);
      expect(t).toEqual(w);
    });
  }
});
