/**
 * Runs the durability fixture server (fixtures/durability-server.ts) under
 * strace, drives a workload over WebSockets, and checks the trace: every ack
 * after the sync of its writes (ack-check.ts), and every acked write present
 * after a power loss replayed at each ack (power-loss.ts).
 */
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath, pathToFileURL } from "node:url";
import Database from "better-sqlite3";
import { WebSocket as WsClient } from "ws";
import type { Request } from "../fixtures/durability-server.ts";
import { ackLines, type Ack } from "./ack-check.ts";
import { filesAfterPowerLoss, writeFiles } from "./power-loss.ts";
import { readTrace, spawnTraced, type TraceEvent } from "./trace.ts";

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, "../../../..");
const tsx = pathToFileURL(join(dirname(createRequire(join(repo, "package.json")).resolve("tsx/package.json")), "dist/loader.mjs")).href;
const fixture = join(here, "../fixtures/durability-server.ts");

/** What the traced server is run with. */
export interface TracedRun {
  /** `-e inject=…` expressions. */
  inject?: string[];
  env?: Record<string, string>;
}

/** A traced server and what it did. */
export interface Traced {
  dir: string;
  port: number;
  /** Kills the server (SIGKILL: nothing more is written) and reads the trace. */
  stop(): Promise<TraceEvent[]>;
  cleanup(): void;
}

/** Starts the fixture server under strace on a fresh data directory. */
export async function startTraced(run: TracedRun = {}): Promise<Traced> {
  const work = mkdtempSync(join(tmpdir(), "torpor-strace-"));
  const dir = join(work, "data");
  const traceFile = join(work, "trace.txt");
  const proc = spawnTraced(process.execPath, ["--conditions=@torpor/source", "--import", tsx, fixture, dir], {
    traceFile,
    ...(run.inject === undefined ? {} : { inject: run.inject }),
    env: { ...process.env, ...run.env },
  });
  let stderr = "";
  proc.stderr!.on("data", (chunk) => (stderr += chunk));
  const exited = new Promise<void>((resolve) => proc.on("exit", () => resolve()));
  let port = 0;
  let pid = 0;
  for await (const line of createInterface({ input: proc.stdout! })) {
    const m = /^listening (\d+) (\d+)$/.exec(line);
    if (m !== null) {
      port = Number(m[1]);
      pid = Number(m[2]);
      break;
    }
  }
  if (port === 0) throw new Error(`the traced server did not start: ${stderr}`);
  return {
    dir,
    port,
    async stop() {
      // A last round trip first: the server's main thread made the syscalls of every earlier ack
      // before this one's, so strace has written them all out (one killed mid-syscall has no result line).
      await barrier(port);
      process.kill(pid, "SIGKILL");
      await exited;
      return readTrace(traceFile, dir);
    },
    cleanup() {
      rmSync(work, { recursive: true, force: true });
    },
  };
}

/** One round trip to the server (an object that writes nothing). */
async function barrier(port: number): Promise<void> {
  const ws = new WsClient(`ws://127.0.0.1:${port}/STORE/barrier`);
  ws.on("error", () => {});
  await new Promise((resolve, reject) => {
    ws.once("open", resolve);
    ws.once("error", reject);
  });
  const pong = new Promise((resolve) => ws.once("message", resolve));
  ws.send("ping");
  await pong;
  ws.terminate();
}

/** A connection to one object that sends requests one at a time. */
export interface Session {
  /** Sends a request; resolves with true on its ack, false if the socket closed first. */
  request(request: Omit<Request, "seq" | "mark"> & { seq: number }): Promise<boolean>;
  /** Alarm notifications received (`alarm <seq>`), by seq. */
  readonly alarms: Set<number>;
  /** What followed `ack <seq>` in each ack (the alarm time for "alarm-state"). */
  readonly replies: Map<number, string>;
  close(): void;
}

let nonce = 0;
/** The marker written by request `seq` (unique in the run, and no marker contains another). */
export function markOf(seq: number): string {
  return `mk${seq}z${(++nonce).toString(36)}q`;
}

/** Opens a session with object `name` of the server on `port`. */
export async function session(port: number, name: string, acks: Ack[]): Promise<Session> {
  const ws = new WsClient(`ws://127.0.0.1:${port}/STORE/${name}`);
  ws.on("error", () => {});
  await new Promise((resolve, reject) => {
    ws.once("open", resolve);
    ws.once("error", reject);
  });
  const alarms = new Set<number>();
  const replies = new Map<number, string>();
  const waiting = new Map<number, (ok: boolean) => void>();
  const marks = new Map<number, string>();
  ws.on("message", (data) => {
    const [kind, seq, ...rest] = String(data).split(" ");
    if (kind === "ack") {
      replies.set(Number(seq), rest.join(" ").trim());
      waiting.get(Number(seq))?.(true);
    } else if (kind === "alarm") {
      alarms.add(Number(seq));
      acks.push({ label: `alarm ${seq}`, frame: `alarm ${seq} `, markers: [`${marks.get(Number(seq))}-fired`] });
    }
  });
  ws.on("close", () => {
    for (const resolve of waiting.values()) resolve(false);
  });
  return {
    alarms,
    replies,
    request(request) {
      const mark = markOf(request.seq);
      marks.set(request.seq, mark);
      return new Promise<boolean>((resolve) => {
        if (ws.readyState !== ws.OPEN) return resolve(false);
        waiting.set(request.seq, (ok) => {
          waiting.delete(request.seq);
          if (ok && request.op !== "alarm-state") {
            const markers = request.op === "call" ? [`${mark}-a`, `${mark}-b`] : ["kv", "sql", "call", "alarm"].includes(request.op) ? [mark] : [];
            acks.push({ label: `ack ${request.seq}`, frame: `ack ${request.seq} `, markers });
          }
          resolve(ok);
        });
        ws.send(JSON.stringify({ ...request, mark }));
      });
    },
    close: () => ws.close(),
  };
}

/** Every value and row of every database in `dir` (recursively), as raw bytes to search markers in. */
function storedBytes(dir: string): Buffer[] {
  const out: Buffer[] = [];
  const walk = (d: string) => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const name = entry.name;
      const path = join(d, name);
      if (entry.isDirectory()) walk(path);
      else if (name.endsWith(".sqlite") && name !== "_alarms.sqlite") {
        const db = new Database(path);
        try {
          const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").pluck().all() as string[];
          if (tables.includes("_cf_KV")) for (const v of db.prepare("SELECT value FROM _cf_KV").pluck().all()) out.push(Buffer.from(v as Buffer));
          if (tables.includes("rows")) for (const v of db.prepare("SELECT mark FROM rows").pluck().all()) out.push(Buffer.from(String(v)));
        } finally {
          db.close();
        }
      }
    }
  };
  walk(dir);
  return out;
}

/**
 * Replays a power loss right after each ack left and opens what would be on
 * disk with SQLite: returns the acked markers that would be gone.
 */
export function lostAfterPowerLoss(events: TraceEvent[], root: string, acks: Ack[], every = 1): string[] {
  const lines = ackLines(events, acks);
  const sent = acks.filter((a) => lines.has(a.label)).sort((a, b) => lines.get(a.label)! - lines.get(b.label)!);
  const problems: string[] = [];
  for (let i = 0; i < sent.length; i++) {
    if (i % every !== 0 && i !== sent.length - 1) continue;
    const cut = lines.get(sent[i]!.label)!;
    const into = mkdtempSync(join(tmpdir(), "torpor-power-loss-"));
    try {
      writeFiles(filesAfterPowerLoss(events, root, cut), root, into);
      const stored = storedBytes(into);
      for (const ack of sent.slice(0, i + 1)) {
        for (const marker of ack.markers) {
          const bytes = Buffer.from(marker);
          if (!stored.some((b) => b.includes(bytes))) problems.push(`power loss after ${sent[i]!.label}: ${ack.label}'s ${marker} is gone`);
        }
      }
    } finally {
      rmSync(into, { recursive: true, force: true });
    }
  }
  return problems;
}

/**
 * The alarm index's promise after a power loss replayed at every sync the
 * server made (and at the end): every alarm an object still has is indexed,
 * at its time or earlier. Returns what broke it.
 */
export function alarmIndexAfterPowerLoss(events: TraceEvent[], root: string): string[] {
  const cuts = [...new Set(events.filter((e) => e.kind === "sync").map((e) => e.call.entry - 1)), Number.MAX_SAFE_INTEGER];
  const problems: string[] = [];
  for (const cut of cuts) {
    const into = mkdtempSync(join(tmpdir(), "torpor-power-loss-"));
    try {
      writeFiles(filesAfterPowerLoss(events, root, cut), root, into);
      const indexed = new Map<string, number>();
      try {
        const index = new Database(join(into, "_alarms.sqlite"));
        try {
          for (const row of index.prepare("SELECT id, time FROM alarms").all() as Array<{ id: string; time: number }>) indexed.set(row.id, row.time);
        } finally {
          index.close();
        }
      } catch {
        // No index on disk yet: nothing is indexed.
      }
      const store = join(into, "STORE");
      let files: string[] = [];
      try {
        files = readdirSync(store).filter((f) => f.endsWith(".sqlite"));
      } catch {}
      for (const file of files) {
        const id = file.slice(0, -".sqlite".length);
        const db = new Database(join(store, file));
        try {
          const hasMeta = db.prepare("SELECT 1 FROM sqlite_master WHERE name = '_cf_METADATA'").get() !== undefined;
          const row = hasMeta ? (db.prepare("SELECT value FROM _cf_METADATA WHERE key = 'alarm'").get() as { value: number } | undefined) : undefined;
          if (row === undefined) continue;
          const at = indexed.get(id);
          if (at === undefined)
            problems.push(`power loss at line ${cut + 1}: object ${id.slice(0, 8)} has an alarm at ${row.value} that the index does not list`);
          else if (at > row.value)
            problems.push(`power loss at line ${cut + 1}: object ${id.slice(0, 8)} has an alarm at ${row.value}, indexed later at ${at}`);
        } finally {
          db.close();
        }
      }
    } finally {
      rmSync(into, { recursive: true, force: true });
    }
  }
  return problems;
}
