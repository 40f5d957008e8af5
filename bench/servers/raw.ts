// Baseline: a plain `ws` server doing the same job as the Torpor object, no framework.
// BENCH_MODE: echo | broadcast | exclude | idle | sql (the Worker's modes in bench/project) or durable
// (the in-process put bench). Routes /ROOM/<room>?u=<user> like the bench Worker.
import { createServer } from "node:http";
import { mkdirSync } from "node:fs";
import { serialize } from "node:v8";
import type { WebSocket as Ws } from "ws";
import { loadBetterSqlite, loadWs } from "../lib/deps.ts";
import { cpuNow, serve, serverStats } from "../lib/proc.ts";
import { fdsOf } from "../lib/procfs.ts";

const mode = process.env.BENCH_MODE ?? "echo";
const puts = Number(process.env.BENCH_PUTS ?? 1);
const { WebSocketServer } = await loadWs();
const Database = mode === "durable" || mode === "sql" ? await loadBetterSqlite() : null;

interface Room {
  sockets: Set<Ws>;
  write?: (value: unknown) => void;
}
const rooms = new Map<string, Room>();
const users = new WeakMap<Ws, { name: string; joined: number }>();

function openRoom(name: string): Room {
  const room: Room = { sockets: new Set() };
  if (Database !== null) {
    // Same layout and pragmas as @torpor/storage-sqlite's per-object database.
    const dir = `${process.env.BENCH_DIR}/raw`;
    mkdirSync(dir, { recursive: true });
    const db = new Database(`${dir}/${name}.sqlite`);
    db.pragma("locking_mode = EXCLUSIVE");
    db.pragma("journal_mode = WAL");
    db.pragma(`synchronous = ${process.env.BENCH_SYNC ?? "FULL"}`);
    if (mode === "sql") {
      // What the bench Worker's "sql" mode does: one INSERT, its own transaction (autocommit).
      db.exec("CREATE TABLE IF NOT EXISTS log (id INTEGER PRIMARY KEY, body TEXT NOT NULL)");
      const insert = db.prepare("INSERT INTO log (body) VALUES (?)");
      room.write = (value: unknown) => insert.run(value);
      rooms.set(name, room);
      return room;
    }
    db.exec("CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID");
    const stmt = db.prepare("INSERT OR REPLACE INTO kv (key, value) VALUES (?, ?)");
    // One transaction per event (batch): `puts` rows, each value serialized (structured clone, as a put does), then commit.
    room.write = db.transaction((value: unknown) => {
      for (let i = 0; i < puts; i++) stmt.run(`k${i}`, serialize(value));
    });
  }
  rooms.set(name, room);
  return room;
}

const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, clientTracking: false, maxPayload: 32 * 1024 * 1024 });
const http = createServer((req, res) => {
  if (req.url?.startsWith("/visit/")) res.end("new");
  else if (req.url?.startsWith("/stream/")) res.write("new", () => res.end("new"));
  else res.writeHead(404).end();
});
http.on("upgrade", (req, socket, head) => {
  const url = new URL(req.url ?? "/", "http://x");
  const [, , name = ""] = url.pathname.split("/");
  wss.handleUpgrade(req, socket, head, (ws) => {
    const room = rooms.get(name) ?? openRoom(name);
    room.sockets.add(ws);
    users.set(ws, { name: url.searchParams.get("u") ?? "u", joined: Date.now() });
    ws.on("close", () => room.sockets.delete(ws));
    if (mode === "echo") {
      ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary }));
    } else if (mode === "broadcast") {
      ws.on("message", (data, isBinary) => {
        for (const peer of room.sockets) peer.send(data, { binary: isBinary });
      });
    } else if (mode === "exclude") {
      ws.on("message", (data, isBinary) => {
        const me = users.get(ws)!.name;
        for (const peer of room.sockets) if (users.get(peer)!.name !== me) peer.send(data, { binary: isBinary });
      });
    } else if (mode === "durable" || mode === "sql") {
      ws.on("message", (data, isBinary) => {
        const text = isBinary ? data : data.toString();
        room.write!(text);
        ws.send(text);
      });
    }
  });
});
await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));

serve(
  {
    stats: async () => ({ ...(await serverStats()), fds: fdsOf("self") }),
    fds: () => fdsOf("self"),
    cpu: () => cpuNow(),
    connections: () => [...rooms.values()].reduce((n, r) => n + r.sockets.size, 0),
  },
  { port: (http.address() as { port: number }).port },
);
