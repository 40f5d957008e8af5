/**
 * Several `torpor start --cluster` nodes as real processes against one
 * throwaway PostgreSQL, on this machine (each node its own data directory,
 * port and peer port on 127.0.0.1), with ways to kill, pause and inspect them.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { get } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { hexFromName, slotOf } from "@torpor/core/cluster";
import { openClusterDb } from "@torpor/postgres";
import { expect, onTestFinished } from "vitest";
import { psql } from "../../postgres/test/pgbouncer.ts";
import type { PgServer } from "../../postgres/test/pg-server.ts";
import { childrenOf } from "./cluster-fault-helpers.ts";
import { workerSource } from "./cluster-helpers.ts";
import { startTorpor, type Server } from "./helpers.ts";

const WRANGLER = JSON.stringify({
  main: "worker.js",
  compatibility_date: "2025-06-01",
  durable_objects: { bindings: [{ name: "COUNTER", class_name: "Counter" }] },
  migrations: [{ tag: "v1", new_sqlite_classes: ["Counter"] }],
});

/** One node process. */
export interface TestNode {
  name: string;
  server: Server;
  url: string;
  /** The supervisor and its workers. */
  pids(): number[];
  /** GET a path on a fresh connection. */
  get(path: string, timeoutMs?: number): Promise<{ status: number; body: any }>;
  rpc(name: string, method: string, arg?: unknown): Promise<{ status: number; body: any }>;
  signal(signal: NodeJS.Signals): void;
  exited(): Promise<number | null>;
}

/** A project directory shared by the nodes (each has its own data directory inside). */
export function multinodeProject(): string {
  const dir = mkdtempSync(join(tmpdir(), "torpor-multinode-"));
  writeFileSync(join(dir, "wrangler.json"), WRANGLER);
  writeFileSync(join(dir, "worker.js"), workerSource("v1"));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Starts a node of the cluster at `url`; `prefix` runs it inside a network namespace (`ip netns exec …`). */
export async function startNode(dir: string, name: string, url: string, extra: string[] = [], prefix: string[] = []): Promise<TestNode> {
  const args = ["start", "--workers", "1", "--port", "0", "--persist-to", join(dir, `data-${name}`), "--cluster", url, ...extra];
  // Generous: under a loaded CI machine a node (supervisor, then a worker loading the sources) has taken over 90 s.
  const server = await startTorpor(args, dir, 180_000, {}, undefined, prefix);
  const exited = new Promise<number | null>((resolve) => {
    if (server.child.exitCode !== null) resolve(server.child.exitCode);
    else server.child.once("exit", (code, signal) => resolve(code ?? (signal === null ? null : -1)));
  });
  const node: TestNode = {
    name,
    server,
    url: server.url,
    pids: () => [server.child.pid!, ...childrenOf(server.child.pid!)],
    get: (path, timeoutMs = 30_000) => getJson(`${server.url}${path}`, timeoutMs),
    rpc: (object, method, arg) =>
      getJson(`${server.url}/rpc/${encodeURIComponent(object)}/${method}${arg === undefined ? "" : `?arg=${encodeURIComponent(JSON.stringify(arg))}`}`, 30_000),
    signal(signal) {
      for (const pid of node.pids()) {
        try {
          process.kill(pid, signal);
        } catch {
          // Already gone.
        }
      }
    },
    exited: () => exited,
  };
  onTestFinished(() => node.signal("SIGKILL"));
  return node;
}

function getJson(url: string, timeoutMs: number): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const req = get(url, { agent: false, timeout: timeoutMs }, (res) => {
      let text = "";
      res.setEncoding("utf8").on("data", (c: string) => (text += c));
      res.on("end", () => resolve({ status: res.statusCode!, body: text.startsWith("{") || text.startsWith("[") ? JSON.parse(text) : text }));
    });
    req.on("timeout", () => req.destroy(new Error(`no answer from ${url} within ${timeoutMs} ms`)));
    req.on("error", reject);
  });
}

/** Reads the cluster's tables (schema `torpor`) from the test. */
export async function clusterQuery<R extends Record<string, unknown>>(url: string, sql: string, values: unknown[] = []): Promise<R[]> {
  const db = await openClusterDb({ url, poolSize: 1, skipPoolerCheck: true });
  try {
    return (await db.query<R>(sql, values)).rows;
  } finally {
    await db.close();
  }
}

/** Slots held per node id (live owners only). */
export async function slotOwners(url: string): Promise<Map<string, number>> {
  const rows = await clusterQuery<{ owner: string; n: string }>(
    url,
    "SELECT s.owner, count(*) AS n FROM torpor.slots s JOIN torpor.nodes n ON n.node_id = s.owner AND n.expires_at > now() GROUP BY s.owner",
  );
  return new Map(rows.map((r) => [r.owner, Number(r.n)]));
}

/** Which node claimed the object named `name` last (it wrote there), from the objects table. */
export async function objectOwner(url: string, name: string): Promise<string | null> {
  const rows = await clusterQuery<{ owner: string }>(url, "SELECT owner FROM torpor.objects WHERE name = $1", [name]);
  return rows[0]?.owner ?? null;
}

/**
 * The first name `<prefix><i>` whose slot the node `nodeId` holds, as PostgreSQL records it. Slots are taken at
 * random when nodes join at once (and in halves when one hands the excess over to the other), so which node serves
 * a given name varies from run to run; `like` names an object already claimed, to learn its namespace.
 */
export async function nameHeldBy(url: string, nodeId: string, like: string, prefix: string): Promise<string> {
  const [known] = await clusterQuery<{ namespace: string; slot: number }>(url, "SELECT namespace, slot FROM torpor.objects WHERE name = $1", [like]);
  if (known === undefined) throw new Error(`no object named ${like} was claimed`);
  // The same slot function as the nodes': a mismatch here would make the choice below meaningless.
  expect(slotOf(hexFromName(known.namespace, like))).toBe(known.slot);
  const rows = await clusterQuery<{ slot: number }>(url, "SELECT slot FROM torpor.slots WHERE owner = $1", [nodeId]);
  const held = new Set(rows.map((r) => r.slot));
  for (let i = 0; i < 10_000; i++) if (held.has(slotOf(hexFromName(known.namespace, `${prefix}${i}`)))) return `${prefix}${i}`;
  throw new Error(`${nodeId} holds none of the slots of ${prefix}0…9999 (it holds ${held.size} slots)`);
}

/** Clusters of one test file's PostgreSQL server (`pg`, from usePgServer), with leases of `ttlMs`. */
export function clusterOn(pg: { get(): PgServer }, ttlMs: number) {
  /** A database of its own for one test's cluster (nodes of earlier tests may still hold slots in another). */
  function freshDatabase(): string {
    const server = pg.get();
    const name = `cluster_${randomBytes(4).toString("hex")}`;
    psql(server, `CREATE DATABASE ${name}`);
    return server.url.replace("/postgres?", `/${name}?`);
  }
  /** Two nodes that split the slots between them (`source`: another Worker than the cluster tests' Counter). */
  async function twoNodes(source?: string) {
    const url = freshDatabase();
    const dir = multinodeProject();
    if (source !== undefined) writeFileSync(join(dir, "worker.js"), source);
    const [a, b] = await Promise.all([
      startNode(dir, "a", url, ["--lease-ttl-ms", String(ttlMs)]),
      startNode(dir, "b", url, ["--lease-ttl-ms", String(ttlMs)]),
    ]);
    // The first node takes every slot; it hands the excess over to the second, a batch per renewal.
    await expect.poll(async () => [...(await slotOwners(url)).values()].sort(), { timeout: 60_000, interval: 250 }).toEqual([128, 128]);
    return { url, dir, a, b };
  }
  return { freshDatabase, twoNodes };
}

/** The node id a node process joined the cluster with (from its "Listening" log line). */
export function nodeIdOf(node: TestNode): string {
  const id = /"node":"([^"]+)"/.exec(node.server.stdout())?.[1];
  if (id === undefined) throw new Error(`${node.name} has not logged its node id`);
  return id;
}

/** The node whose node id claimed `name`, and the other one. */
export async function ownerAndOther(url: string, name: string, nodes: TestNode[]): Promise<[TestNode, TestNode]> {
  const owner = await objectOwner(url, name);
  const ids = await clusterQuery<{ node_id: string; address: string }>(url, "SELECT node_id, address FROM torpor.nodes WHERE node_id = $1", [owner]);
  const ownerNode = nodes.find((n) => n.server.stdout().includes(`"node":"${ids[0]!.node_id}"`))!;
  return [ownerNode, nodes.find((n) => n !== ownerNode)!];
}
