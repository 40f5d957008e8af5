/**
 * The admin endpoint's dashboard: a page (plain HTML, CSS and JavaScript in
 * `packages/cli/dashboard/`, served as files, no build step) and the JSON it
 * polls, `GET /dashboard/data`: totals across every worker and the objects
 * (state, sockets, tags, last event, wakes, evictions, pending alarm, size
 * on disk), live objects first. The page draws its chart from successive
 * totals and forces hibernation through `POST /objects/…/hibernate`.
 */
import { readFileSync, statSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Metrics, ObjectInfo } from "@torpor/core";
import { objectFilePath } from "@torpor/storage-sqlite";

/** One worker's numbers (worker null: a single process). */
export interface WorkerStats {
  worker: number | null;
  metrics: Metrics;
  objects: ObjectInfo[];
}

/** Rows beyond this are counted, not listed: the page stays small with 100,000 objects. */
const MAX_ROWS = 500;

const ASSETS: Record<string, { file: string; type: string }> = {
  "/dashboard": { file: "index.html", type: "text/html; charset=utf-8" },
  "/dashboard/": { file: "index.html", type: "text/html; charset=utf-8" },
  "/dashboard/app.js": { file: "app.js", type: "text/javascript; charset=utf-8" },
  "/dashboard/style.css": { file: "style.css", type: "text/css; charset=utf-8" },
};
const cache = new Map<string, Buffer>();

/** The page's files: `send` answers with one, or null when the request is for something else. */
export function dashboardAsset(req: IncomingMessage): { send(res: ServerResponse): Promise<void> } | null {
  if (req.method !== "GET" && req.method !== "HEAD") return null;
  const asset = ASSETS[(req.url ?? "").split("?")[0]!];
  if (asset === undefined) return null;
  return {
    async send(res) {
      let body = cache.get(asset.file);
      if (body === undefined) {
        body = readFileSync(new URL(`../../dashboard/${asset.file}`, import.meta.url));
        cache.set(asset.file, body);
      }
      res.writeHead(200, {
        "content-type": asset.type,
        "cache-control": "no-cache",
        // Only its own script, style and data: nothing else may run in a page that can force hibernation.
        "content-security-policy": "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
        "x-content-type-options": "nosniff",
      });
      res.end(req.method === "HEAD" ? undefined : body);
    },
  };
}

/** The `GET /dashboard/data` body. */
export function dashboardData(stats: WorkerStats[], dataDir: string | undefined): Record<string, unknown> {
  const totals = { objects: 0, live: 0, hibernated: 0, sockets: 0, constructions: 0, wakes: 0, evictions: 0, events: 0, errors: 0 };
  const all: Array<{ worker: number | null; o: ObjectInfo }> = [];
  for (const s of stats) {
    totals.constructions += s.metrics.constructions;
    totals.wakes += s.metrics.wakes;
    totals.evictions += s.metrics.evictions;
    totals.errors += s.metrics.handlerErrors;
    for (const n of Object.values(s.metrics.events)) totals.events += n;
    for (const o of s.objects) {
      totals.objects++;
      if (o.state === "live") totals.live++;
      else totals.hibernated++;
      totals.sockets += o.sockets;
      all.push({ worker: s.worker, o });
    }
  }
  all.sort((a, b) => (a.o.state === b.o.state ? (b.o.lastEvent?.at ?? 0) - (a.o.lastEvent?.at ?? 0) : a.o.state === "live" ? -1 : 1));
  const objects = all.slice(0, MAX_ROWS).map(({ worker, o }) => ({
    worker,
    binding: o.binding,
    id: o.id,
    name: o.name ?? null,
    state: o.state,
    sockets: o.sockets,
    tags: o.tags,
    lastEvent: o.lastEvent,
    wakes: o.counters.woken,
    evictions: o.counters.evicted,
    events: o.counters.events,
    errors: o.counters.errors,
    alarm: o.alarm,
    blockers: o.blockers,
    bytes: dataDir === undefined ? null : sizeOnDisk(dataDir, o),
  }));
  return { at: Date.now(), workers: stats.map((s) => s.worker), totals, objects, listed: objects.length };
}

/** The database file and its WAL; 0 for an object that never wrote (it has no file). */
function sizeOnDisk(dataDir: string, o: ObjectInfo): number {
  const file = objectFilePath(dataDir, o.binding, o.id);
  let bytes = 0;
  for (const path of [file, `${file}-wal`]) {
    try {
      bytes += statSync(path).size;
    } catch {}
  }
  return bytes;
}
