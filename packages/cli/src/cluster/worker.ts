/**
 * A cluster worker: one process running the Worker and the objects of the
 * slots it owns. It gets client connections, routed calls, upgrades and
 * moved sockets from the supervisor over IPC, and sends back replies and
 * the sockets of objects it gives up on a reload.
 */
import type { IncomingMessage } from "node:http";
import type { Socket } from "node:net";
import { WebSocketRequestResponsePair } from "@torpor/core";
import { endOf, LocalTarget, slotOf, webSocketOf, type SocketEnd } from "@torpor/core/cluster";
import { hibernateObject } from "../admin.ts";
import { runtimeChecks } from "../health.ts";
import type { CliArgs, Command } from "../args.ts";
import { startWorker, type RunningWorker } from "../serve.ts";
import type { RunHost } from "../main.ts";
import { fileURLToPath } from "node:url";
import { locateSyntaxError } from "../dev/load-error.ts";
import { ClusterDirectory } from "./directory.ts";
import type { FromWorker, MovedSocket, ToWorker } from "./ipc.ts";
import { moveOut } from "./move.ts";
import { encodeError, encodeResponse, decodeRequest } from "./wire.ts";

/** How long an accepted upgrade waits for its socket before the object sees it dropped. */
const UPGRADE_WAIT_MS = 30_000;

const send = (message: FromWorker, handle?: unknown): void => {
  if (process.connected) process.send!(message, handle as Socket | undefined);
};

/** Runs this process as worker `index` until the supervisor says stop (or goes away). */
export async function runWorker(args: CliArgs & { command: Command }, host: RunHost = {}): Promise<void> {
  const init = await new Promise<Extract<ToWorker, { t: "init" }>>((resolve) => {
    const first = (message: ToWorker) => {
      if (message.t !== "init") return;
      process.off("message", first);
      resolve(message);
    };
    process.on("message", first);
  });
  const directory = new ClusterDirectory(init.index, init.slots, init.acquired, send);
  // Modules loaded, batched per turn, sent once the worker is ready (dev watches the Worker's import graph).
  const loaded: string[] = [];
  let pending: string[] | null = null;
  host.watchImports?.((url) => {
    loaded.push(url);
    if (pending === null) return;
    if (pending.length === 0) setImmediate(() => send({ t: "imports", urls: pending!.splice(0) }));
    pending.push(url);
  });
  let worker: RunningWorker;
  try {
    worker = await startWorker(args, process.cwd(), { index: init.index, directory });
  } catch (error) {
    send({ t: "failed", error: encodeError(await withSyntaxErrorPlace(error, loaded)) });
    process.disconnect();
    return;
  }
  const runtime = worker.runtime;
  const parked = new Map<number, { end: SocketEnd; protocol: string | false; timer: NodeJS.Timeout }>();
  let nextToken = 1;
  let stopping = false;

  const stop = async (code = 1012, reason = "Server restarting") => {
    if (stopping) return;
    stopping = true;
    await worker.close(code, reason);
    process.exit(0);
  };
  // Signals reach the whole process group (Ctrl-C); the supervisor decides when workers stop.
  process.on("SIGINT", () => {});
  process.on("SIGTERM", () => {});
  process.on("SIGHUP", () => {});
  process.on("disconnect", () => {
    directory.failAll();
    void stop();
  });

  const serveCall = async (message: Extract<ToWorker, { t: "call" }>) => {
    const reply = (ok: boolean, value: unknown) =>
      send(
        ok
          ? { t: "reply", rid: message.rid, to: message.from, ok: true, value }
          : { t: "reply", rid: message.rid, to: message.from, ok: false, error: encodeError(value) },
      );
    try {
      const target = new LocalTarget(runtime.hostForKey(message.key));
      if (message.op === "call") return reply(true, await target.call(message.method, message.args));
      if (message.op === "read") return reply(true, await target.read(message.property));
      const response = await target.fetch(decodeRequest(message.request));
      const client = response.status === 101 ? webSocketOf(response) : null;
      const server = client === null ? null : endOf(client).peer;
      const wire = await encodeResponse(response);
      if (server !== null) {
        // Held here until the caller's worker sends the client's socket (or gives up).
        const token = nextToken++;
        const timer = setTimeout(() => {
          parked.delete(token);
          server.abandon();
        }, UPGRADE_WAIT_MS);
        timer.unref();
        parked.set(token, { end: server, protocol: response.headers.get("sec-websocket-protocol") ?? false, timer });
        wire.upgrade = { token, owner: init.index };
      }
      reply(true, wire);
    } catch (error) {
      reply(false, error);
    }
  };

  const adopt = (moved: MovedSocket, socket: Socket | undefined) => {
    const host = runtime.hostForKey(moved.key, true);
    if (socket === undefined || socket.destroyed) return;
    host.adoptSocket(moved, socket, Buffer.from(moved.unparsed));
  };

  process.on("message", (message: ToWorker, handle?: Socket) => {
    switch (message.t) {
      case "conn":
        if (handle !== undefined) runtime.server!.acceptConnection(handle);
        return;
      case "call":
        void serveCall(message);
        return;
      case "reply":
        directory.settle(message.rid, message.ok, message.ok ? message.value : message.error);
        return;
      case "upgrade": {
        const entry = parked.get(message.token);
        if (entry === undefined || handle === undefined) {
          handle?.destroy();
          return;
        }
        parked.delete(message.token);
        clearTimeout(entry.timer);
        const req = { method: message.req.method, url: message.req.url, headers: message.req.headers } as unknown as IncomingMessage;
        runtime.server!.completeUpgrade(req, handle, Buffer.from(message.head), entry.end, entry.protocol);
        return;
      }
      case "abandon": {
        const entry = parked.get(message.token);
        if (entry === undefined) return;
        parked.delete(message.token);
        clearTimeout(entry.timer);
        entry.end.abandon();
        return;
      }
      case "socket":
        adopt(message.moved, handle);
        return;
      case "auto-response":
        runtime.hostForKey(message.key, true).autoResponse = new WebSocketRequestResponsePair(message.request, message.response);
        return;
      case "acquire":
        directory.acquired = true;
        runtime.scheduleStoredAlarms((key) => directory.slots[slotOf(key.id)] === init.index);
        send({ t: "acquired" });
        return;
      case "release":
        directory.acquired = false;
        void moveOut(runtime, send).then((counts) => send({ t: "released", ...counts }));
        return;
      case "stats":
        send({ t: "stats-reply", rid: message.rid, metrics: runtime.metrics, objects: runtime.objects() });
        return;
      case "hibernate":
        void hibernateObject(runtime, message.binding, message.name).then(({ status, body }) => send({ t: "hibernate-reply", rid: message.rid, status, body }));
        return;
      case "health":
        send({ t: "health-reply", rid: message.rid, checks: runtimeChecks(runtime, worker.storage, `pid ${process.pid}`) });
        return;
      case "backup":
        // Only the objects of this worker's slots: another worker may have the rest open.
        worker.storage.backup(message.dest, { only: (key) => directory.slots[slotOf(key.id)] === init.index }).then(
          (report) => send({ t: "backup-reply", rid: message.rid, ok: true, ...report }),
          (error: unknown) => send({ t: "backup-reply", rid: message.rid, ok: false, error: (error as Error)?.message ?? String(error) }),
        );
        return;
      case "stop":
        void stop(message.code, message.reason);
        return;
      case "init":
        return;
    }
  });
  send({ t: "ready" });
  send({ t: "imports", urls: loaded });
  pending = [];
}

/** A JavaScript syntax error names no place in its stack: add the file and line `node --check` finds (load-error.ts). */
async function withSyntaxErrorPlace(error: unknown, loaded: string[]): Promise<unknown> {
  const text = `${(error as Error)?.message ?? ""}`;
  if (!/SyntaxError/.test(text) || /ERROR: /.test(text)) return error;
  // The loader thread's reports of the last modules may still be on their way.
  await new Promise((resolve) => setImmediate(resolve));
  const files = loaded.filter((u) => u.startsWith("file:") && !u.includes("/node_modules/")).map((u) => fileURLToPath(u.split("?")[0]!));
  const place = locateSyntaxError(files);
  if (place === null) return error;
  const located = new Error(`${text}\n    at ${place}`);
  Object.assign(located, { name: (error as Error).name, code: (error as { code?: unknown }).code });
  return located;
}
