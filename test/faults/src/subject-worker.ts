/**
 * The system under test's code: a wrangler project whose Worker routes each
 * request to one Durable Object (`Subject`) that makes every answer checkable:
 *
 * - every event the object runs is committed to its own table `ev` with the
 *   incarnation that ran it (a fresh id per construction) and the pid, so two
 *   instances of one object at once show as interleaved rows;
 * - writes carry the operation's id (`kv:<op>` in KV, a row in `w` for SQL),
 *   so an acknowledged write can be looked up after the run;
 * - every answer carries the operation's id, and its value follows from the
 *   request (`echo` reverses, `post` checksums the body), so an answer that
 *   belongs to another request is seen;
 * - WebSocket messages `seq:<n>` are echoed `echo:<n>`; `flood:<bytes>` sends
 *   that much back (for a client that stops reading);
 * - `arm` sets an alarm whose run is recorded in `fired`.
 *
 * `crashAfterMs` makes the code exit that long after it loads in a cluster
 * worker: a deploy whose new code dies shortly after it said ready.
 */
import { renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** The binding and class of the subject object. */
export const BINDING = "SUBJECT";

/** Options of the generated code. */
export interface SubjectCode {
  /** Returned in every answer; a reload changes it. */
  version: string;
  /** In a cluster worker, exit this long after loading (a deploy that crashes after ready). */
  crashAfterMs?: number | null;
}

/** The Worker module's source. */
export function subjectSource({ version, crashAfterMs = null }: SubjectCode): string {
  return `
import { DurableObject } from "cloudflare:workers";
const VERSION = ${JSON.stringify(version)};
const CRASH_AFTER_MS = ${JSON.stringify(crashAfterMs)};
if (CRASH_AFTER_MS !== null && process.env.TORPOR_CLUSTER_WORKER !== undefined) setTimeout(() => process.exit(70), CRASH_AFTER_MS);

const checksum = (text) => {
  let h = 0;
  for (let i = 0; i < text.length; i++) h = (Math.imul(h, 31) + text.charCodeAt(i)) >>> 0;
  return h;
};

export class Subject extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    this.incarnation = process.pid + "." + crypto.randomUUID().slice(0, 8);
    const sql = ctx.storage.sql;
    sql.exec("CREATE TABLE IF NOT EXISTS ev (seq INTEGER PRIMARY KEY AUTOINCREMENT, inc TEXT NOT NULL, pid INTEGER NOT NULL, at REAL NOT NULL, what TEXT NOT NULL)");
    sql.exec("CREATE TABLE IF NOT EXISTS w (op TEXT PRIMARY KEY, v TEXT)");
    sql.exec("CREATE TABLE IF NOT EXISTS fired (op TEXT NOT NULL, inc TEXT NOT NULL)");
    sql.exec("CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT)");
    if (ctx.id.name !== undefined) sql.exec("INSERT OR IGNORE INTO meta VALUES ('name', ?)", ctx.id.name);
    this.event("construct " + VERSION);
  }

  event(what) {
    this.ctx.storage.sql.exec("INSERT INTO ev (inc, pid, at, what) VALUES (?, ?, ?, ?)", this.incarnation, process.pid, Date.now(), what);
  }

  async kv(op, value) {
    this.event("kv " + op);
    await this.ctx.storage.put("kv:" + op, value);
    return { op, value };
  }

  sql(op, value) {
    this.event("sql " + op);
    this.ctx.storage.sql.exec("INSERT INTO w VALUES (?, ?)", op, value);
    return { op, value };
  }

  echo(op, text) {
    this.event("echo " + op);
    return { op, value: [...text].reverse().join("") };
  }

  async sleep(op, ms) {
    this.event("sleep " + op);
    await new Promise((resolve) => setTimeout(resolve, ms));
    this.event("woke " + op);
    return { op, value: ms };
  }

  async arm(op, at) {
    this.event("arm " + op);
    await this.ctx.storage.put("alarm-op", op);
    await this.ctx.storage.setAlarm(at);
    return { op, value: at };
  }

  async alarm() {
    const op = await this.ctx.storage.get("alarm-op");
    this.event("alarm " + op);
    this.ctx.storage.sql.exec("INSERT INTO fired VALUES (?, ?)", op, this.incarnation);
  }

  async fetch(request) {
    const url = new URL(request.url);
    const op = url.searchParams.get("op");
    if (request.headers.get("upgrade") === "websocket") {
      this.event("accept " + op);
      const [client, server] = Object.values(new WebSocketPair());
      this.ctx.acceptWebSocket(server, [op]);
      server.serializeAttachment({ session: op });
      return new Response(null, { status: 101, webSocket: client });
    }
    if (url.pathname.startsWith("/stream/")) {
      // Chunks produced over time, each stamped with when it was made: a client that gets the first only
      // after the last was made got a buffered copy, not a stream. 400 ms apart, so that a stream of 5 spans
      // 1.6 s: a process starved of CPU that long (3 workers starting on 2 cores) does not pass for a buffer.
      const chunks = Number(url.searchParams.get("arg"));
      this.event("stream " + op);
      let n = 0;
      const body = new ReadableStream({
        async pull(controller) {
          if (n > 0) await new Promise((resolve) => setTimeout(resolve, 400));
          controller.enqueue(new TextEncoder().encode(JSON.stringify({ op, n, at: Date.now() }) + "\\n"));
          if (++n === chunks) controller.close();
        },
      });
      return new Response(body, { headers: { "content-type": "application/x-ndjson" } });
    }
    const text = await request.text();
    this.event("post " + op);
    return Response.json({ op, value: { length: text.length, checksum: checksum(text) } });
  }

  webSocketMessage(ws, message) {
    const text = String(message);
    if (text.startsWith("seq:")) {
      this.event("ws " + ws.deserializeAttachment().session + " " + text);
      ws.send("echo:" + text.slice(4));
    } else if (text.startsWith("flood:")) {
      const chunk = "x".repeat(65536);
      for (let sent = 0; sent < Number(text.slice(6)); sent += chunk.length) ws.send(chunk);
    }
  }

  webSocketClose(ws, code) {
    this.event("close " + ws.deserializeAttachment().session + " " + code);
  }
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const [, kind, object] = url.pathname.split("/");
    const stub = env.${BINDING}.getByName(decodeURIComponent(object));
    if (kind === "ws" || kind === "post" || kind === "stream") return stub.fetch(request);
    const op = url.searchParams.get("op");
    const arg = JSON.parse(url.searchParams.get("arg") ?? "null");
    try {
      return Response.json({ ...(await stub[kind](op, arg)), version: VERSION });
    } catch (error) {
      return Response.json({ error: { name: error?.name, message: error?.message ?? String(error), code: error?.code } }, { status: 500 });
    }
  },
};
`;
}

/** Writes the project (wrangler.json + worker.js) into `dir`. */
export function writeSubjectProject(dir: string, code: SubjectCode): void {
  writeFileSync(
    join(dir, "wrangler.json"),
    JSON.stringify({
      main: "worker.js",
      compatibility_date: "2025-06-01",
      durable_objects: { bindings: [{ name: BINDING, class_name: "Subject" }] },
      migrations: [{ tag: "v1", new_sqlite_classes: ["Subject"] }],
    }),
  );
  writeSubjectCode(dir, code);
}

/** Replaces the Worker's code (the next reload or restart loads it). */
export function writeSubjectCode(dir: string, code: SubjectCode): void {
  // Through a rename, so a worker starting meanwhile never reads half a file.
  writeFileSync(join(dir, "worker.js.tmp"), subjectSource(code));
  renameSync(join(dir, "worker.js.tmp"), join(dir, "worker.js"));
}
