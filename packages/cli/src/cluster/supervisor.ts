/**
 * The cluster supervisor: holds the data directory, the listening socket and
 * the slot table; runs N worker processes; hands each client connection to a
 * worker; relays routed calls by worker index (holding them while that index
 * restarts or moves); restarts a worker that dies; and on reload starts new
 * workers and moves every object, sockets included, to them.
 */
import { fork, type ChildProcess } from "node:child_process";
import { createServer, type Server, type Socket } from "node:net";
import { join } from "node:path";
import { TorporError, type Logger, type Metrics, type ObjectInfo } from "@torpor/core";
import type { ReadyCheck } from "../health.ts";
import type { FromWorker, ToWorker } from "./ipc.ts";
import { loadSlotTable, saveSlotTable, type SlotTable } from "./slot-table.ts";
import { takeSocket } from "./sockets.ts";
import { decodeError, type WireError } from "./wire.ts";

/** What the supervisor needs to start workers and listen. */
export interface SupervisorOptions {
  workers: number;
  port: number;
  ip: string;
  persistTo: string;
  /** The script and arguments a worker process runs (the same command line, in worker mode). */
  script: string;
  argv: string[];
  logger: Logger;
  /** Module URLs a worker loaded (`torpor dev` watches them). */
  onImports?: (urls: string[]) => void;
}

/** One worker process. */
interface WorkerProcess {
  /** Unique per process, for logs. */
  serial: number;
  index: number;
  child: ChildProcess;
  ready: boolean;
  /** Set when the supervisor asked it to stop (an exit is then not a crash). */
  retiring: boolean;
  /** Routed calls forwarded to it and not yet answered: rid → caller index. */
  inflight: Map<string, { from: number; rid: number }>;
  exited: Promise<number | null>;
}

type Held = { message: ToWorker; handle?: Socket };

export class Supervisor {
  readonly options: SupervisorOptions;
  readonly table: SlotTable;
  /** The process serving each index (null while it starts). */
  readonly #current: Array<WorkerProcess | null>;
  /** Messages for an index whose process is starting, restarting or taking over moved objects. */
  readonly #held: Held[][];
  #server: Server | null = null;
  #nextConn = 0;
  #serial = 0;
  #stopping = false;
  #reloading: Promise<void> | null = null;
  #statsRid = 1;
  readonly #statsWaiters = new Map<number, (value: FromWorker) => void>();
  url = "";

  constructor(options: SupervisorOptions) {
    this.options = options;
    this.table = loadSlotTable(join(options.persistTo, "cluster"), options.workers);
    saveSlotTable(join(options.persistTo, "cluster"), this.table);
    this.#current = new Array(options.workers).fill(null);
    this.#held = Array.from({ length: options.workers }, () => []);
  }

  get logger(): Logger {
    return this.options.logger;
  }

  /** Starts every worker, then listens. Rejects with the first worker's load error. */
  async start(): Promise<void> {
    const started = await Promise.allSettled(this.#current.map((_, index) => this.#spawn(index, true)));
    const failed = started.find((r) => r.status === "rejected");
    if (failed !== undefined) {
      await this.stop();
      throw (failed as PromiseRejectedResult).reason;
    }
    for (const r of started) this.#install((r as PromiseFulfilledResult<WorkerProcess>).value);
    const server = createServer({ pauseOnConnect: true }, (socket) => this.#connection(socket));
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.options.port, this.options.ip, () => {
        server.off("error", reject);
        resolve();
      });
    });
    this.#server = server;
    const address = server.address() as { port: number };
    const host = this.options.ip.includes(":") ? `[${this.options.ip}]` : this.options.ip;
    this.url = `http://${host}:${address.port}`;
  }

  /** Workers serving now, by index. */
  workers(): Array<{ index: number; pid: number | undefined; ready: boolean }> {
    return this.#current.map((w, index) => ({ index, pid: w?.child.pid, ready: w?.ready ?? false }));
  }

  #spawn(index: number, acquired: boolean): Promise<WorkerProcess> {
    const child = fork(this.options.script, this.options.argv, {
      env: { ...process.env, TORPOR_CLUSTER_WORKER: String(index) },
      serialization: "advanced",
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    const worker: WorkerProcess = {
      serial: ++this.#serial,
      index,
      child,
      ready: false,
      retiring: false,
      inflight: new Map(),
      exited: new Promise((resolve) => child.once("exit", (code) => resolve(code))),
    };
    child.on("error", (error) => this.logger.error("Worker process error", { worker: index, error }));
    this.#send(worker, { t: "init", index, slots: this.table.slots, acquired });
    return new Promise<WorkerProcess>((resolve, reject) => {
      const onMessage = (message: FromWorker) => {
        if (message.t === "ready") {
          child.off("message", onMessage);
          worker.ready = true;
          child.on("message", (m: FromWorker, handle?: Socket) => this.#fromWorker(worker, m, handle));
          void worker.exited.then((code) => this.#exited(worker, code));
          resolve(worker);
        } else if (message.t === "failed") {
          child.off("message", onMessage);
          reject(decodeError(message.error));
        }
      };
      child.on("message", onMessage);
      void worker.exited.then((code) => {
        if (!worker.ready) reject(new TorporError("ERR_OBJECT_OWNER_EXITED", `Worker ${index} exited (code ${code}) before it was ready.`));
      });
    });
  }

  /** Makes `worker` the process of its index and delivers what waited for it. */
  #install(worker: WorkerProcess): void {
    this.#current[worker.index] = worker;
    const held = this.#held[worker.index]!.splice(0);
    for (const { message, handle } of held) this.#deliver(worker.index, message, handle);
  }

  #send(worker: WorkerProcess, message: ToWorker, handle?: Socket): void {
    if (!worker.child.connected) {
      handle?.destroy();
      return;
    }
    worker.child.send(message, handle, (error) => {
      if (error !== null && error !== undefined) handle?.destroy();
    });
  }

  /** Sends to the process of `index`, or holds the message until there is one. */
  #deliver(index: number, message: ToWorker, handle?: Socket): void {
    const worker = this.#current[index];
    if (worker === null || worker === undefined) {
      if (handle !== undefined) takeSocket(handle);
      this.#held[index]!.push({ message, ...(handle !== undefined ? { handle } : {}) });
      return;
    }
    if (message.t === "call") worker.inflight.set(`${message.from}:${message.rid}`, { from: message.from, rid: message.rid });
    this.#send(worker, message, handle);
  }

  #connection(socket: Socket): void {
    socket.on("error", () => {});
    const ready = this.#current.filter((w): w is WorkerProcess => w !== null && w.ready);
    if (ready.length === 0 || this.#stopping) {
      socket.destroy();
      return;
    }
    const worker = ready[this.#nextConn++ % ready.length]!;
    this.#send(worker, { t: "conn" }, socket);
  }

  #fromWorker(worker: WorkerProcess, message: FromWorker, handle?: Socket): void {
    switch (message.t) {
      case "call": {
        const { to, ...rest } = message;
        this.#deliver(to, { ...rest, from: worker.index });
        return;
      }
      case "reply": {
        worker.inflight.delete(`${message.to}:${message.rid}`);
        const { to, ...rest } = message;
        this.#deliver(to, rest as ToWorker);
        return;
      }
      case "upgrade": {
        // Bytes this process may have read after receiving the socket travel with the request's head.
        const more = handle === undefined ? Buffer.alloc(0) : takeSocket(handle);
        const { to, ...rest } = message;
        this.#deliver(to, { ...rest, head: more.length > 0 ? Buffer.concat([message.head, more]) : message.head }, handle);
        return;
      }
      case "abandon": {
        const { to, ...rest } = message;
        this.#deliver(to, rest);
        return;
      }
      case "socket": {
        const more = handle === undefined ? Buffer.alloc(0) : takeSocket(handle);
        const moved = more.length > 0 ? { ...message.moved, unparsed: Buffer.concat([message.moved.unparsed, more]) } : message.moved;
        this.#moveTarget(worker)?.({ t: "socket", moved }, handle);
        return;
      }
      case "auto-response":
        this.#moveTarget(worker)?.(message);
        return;
      case "released":
      case "acquired":
        this.#moveWaiters.get(worker)?.(message);
        return;
      case "stats-reply":
      case "hibernate-reply":
      case "health-reply":
      case "backup-reply":
        this.#statsWaiters.get(message.rid)?.(message);
        return;
      case "imports":
        this.options.onImports?.(message.urls);
        return;
      case "ready":
      case "failed":
        return;
    }
  }

  /** During a reload: where the objects of an outgoing worker go. */
  readonly #moveTargets = new Map<WorkerProcess, WorkerProcess>();
  readonly #moveWaiters = new Map<WorkerProcess, (message: FromWorker) => void>();

  #moveTarget(from: WorkerProcess): ((message: ToWorker, handle?: Socket) => void) | null {
    const to = this.#moveTargets.get(from);
    if (to === undefined) return null;
    return (message, handle) => this.#send(to, message, handle);
  }

  #exited(worker: WorkerProcess, code: number | null): void {
    closeUndeliveredHandles(worker.child);
    // Calls it will never answer: the caller gets an error (the call may or may not have run, as when a Cloudflare object resets).
    for (const { from, rid } of worker.inflight.values()) {
      const error: WireError = {
        name: "TorporError",
        code: "ERR_OBJECT_OWNER_EXITED",
        message: `The worker process hosting this object exited (code ${code}) before answering; the object restarts with its committed state. Retry if the call is safe to repeat.`,
      };
      this.#deliver(from, { t: "reply", rid, ok: false, error });
    }
    worker.inflight.clear();
    if (worker.retiring || this.#stopping || this.#current[worker.index] !== worker) return;
    this.logger.error("Worker exited; restarting it (its objects come back with their committed state)", { worker: worker.index, pid: worker.child.pid, code });
    this.#current[worker.index] = null;
    void this.#restart(worker.index);
  }

  async #restart(index: number): Promise<void> {
    for (let attempt = 1; !this.#stopping; attempt++) {
      try {
        const worker = await this.#spawn(index, true);
        // A reload may have given the index to a new worker meanwhile: that one serves it.
        if (this.#current[index] !== null || this.#stopping) {
          worker.retiring = true;
          this.#send(worker, { t: "stop" });
          return;
        }
        this.#install(worker);
        this.logger.info("Worker restarted", { worker: index, pid: worker.child.pid });
        return;
      } catch (error) {
        this.logger.error("Worker failed to restart", { worker: index, attempt, error });
        if (attempt >= 3) {
          this.logger.error("Giving up on the worker; its objects are unavailable until a reload", { worker: index });
          return;
        }
      }
    }
  }

  /**
   * Starts workers with the code on disk now and moves every object to them.
   * If the new code fails to load, the old workers keep serving and this rejects.
   */
  reload(): Promise<void> {
    this.#reloading ??= this.#reload().finally(() => (this.#reloading = null));
    return this.#reloading;
  }

  async #reload(): Promise<void> {
    // A backup copies each object in its owner: ownership must not move under it.
    await this.#backingUp?.catch(() => {});
    const started = Date.now();
    const fresh = await Promise.allSettled(this.#current.map((_, index) => this.#spawn(index, false)));
    const failed = fresh.find((r) => r.status === "rejected");
    if (failed !== undefined) {
      for (const r of fresh) {
        if (r.status === "fulfilled") {
          r.value.retiring = true;
          r.value.child.kill("SIGKILL");
        }
      }
      throw (failed as PromiseRejectedResult).reason;
    }
    const next = fresh.map((r) => (r as PromiseFulfilledResult<WorkerProcess>).value);
    const moveStarted = Date.now();
    let moved = 0;
    await Promise.all(
      next.map(async (incoming) => {
        const outgoing = this.#current[incoming.index];
        if (outgoing === null || outgoing === undefined) {
          this.#send(incoming, { t: "acquire" });
          this.#install(incoming);
          return;
        }
        // From now on calls for this index wait here; the outgoing worker finishes what it has.
        this.#current[incoming.index] = null;
        outgoing.retiring = true;
        this.#moveTargets.set(outgoing, incoming);
        const released = new Promise<FromWorker>((resolve) => this.#moveWaiters.set(outgoing, resolve));
        this.#send(outgoing, { t: "release", to: incoming.index });
        const result = await Promise.race([released, outgoing.exited.then(() => null)]);
        this.#moveWaiters.delete(outgoing);
        this.#moveTargets.delete(outgoing);
        if (result !== null && result.t === "released") moved += result.sockets;
        this.#send(incoming, { t: "acquire" });
        this.#install(incoming);
        this.#send(outgoing, { t: "stop" });
      }),
    );
    // ms: the whole reload; moveMs: from the new workers being ready to the last object moved (what clients could notice).
    this.logger.info("Reloaded", { workers: next.length, socketsMoved: moved, ms: Date.now() - started, moveMs: Date.now() - moveStarted });
  }

  /** Asks every worker for its metrics and objects. */
  async stats(): Promise<Array<{ index: number; metrics: Metrics; objects: ObjectInfo[] }>> {
    const live = this.#current.filter((w): w is WorkerProcess => w !== null && w.ready);
    return Promise.all(
      live.map(async (worker) => {
        const rid = this.#statsRid++;
        const reply = await new Promise<FromWorker>((resolve) => {
          this.#statsWaiters.set(rid, resolve);
          this.#send(worker, { t: "stats", rid });
        });
        this.#statsWaiters.delete(rid);
        const r = reply as Extract<FromWorker, { t: "stats-reply" }>;
        return { index: worker.index, metrics: r.metrics, objects: r.objects };
      }),
    );
  }

  /** Forces hibernation of one object, in its owner. */
  async hibernate(index: number, binding: string, name: string): Promise<{ status: number; body: unknown }> {
    const worker = this.#current[index];
    if (worker === null || worker === undefined)
      return { status: 503, body: { error: { code: "ERR_OBJECT_UNAVAILABLE", message: `Worker ${index} is restarting.` } } };
    const rid = this.#statsRid++;
    const reply = await new Promise<FromWorker>((resolve) => {
      this.#statsWaiters.set(rid, resolve);
      this.#send(worker, { t: "hibernate", rid, binding, name });
    });
    this.#statsWaiters.delete(rid);
    const r = reply as Extract<FromWorker, { t: "hibernate-reply" }>;
    return { status: r.status, body: r.body };
  }

  /**
   * Each worker's readiness checks (it serves, its storage opens), asked over
   * IPC; a worker that is not running, or does not answer within `timeoutMs`,
   * fails the workers check. An index whose objects are moving in a reload
   * counts as serving: its calls wait in the supervisor meanwhile.
   */
  async health(timeoutMs = 3_000): Promise<ReadyCheck[]> {
    const reloading = this.#reloading !== null;
    const perWorker = await Promise.all(
      this.#current.map(async (worker, index): Promise<ReadyCheck[]> => {
        if (worker === null || !worker.ready) {
          if (reloading) return [{ name: "workers", ok: true, detail: `worker ${index} is moving to new code (reload)` }];
          return [{ name: "workers", ok: false, detail: `worker ${index} is not running (it is restarting, or failed to)` }];
        }
        const rid = this.#statsRid++;
        let timer: NodeJS.Timeout | undefined;
        const reply = await new Promise<FromWorker | null>((resolve) => {
          this.#statsWaiters.set(rid, resolve);
          timer = setTimeout(() => resolve(null), timeoutMs);
          this.#send(worker, { t: "health", rid });
        });
        clearTimeout(timer);
        this.#statsWaiters.delete(rid);
        if (reply === null) return [{ name: "workers", ok: false, detail: `worker ${index} did not answer within ${timeoutMs} ms` }];
        return (reply as Extract<FromWorker, { t: "health-reply" }>).checks.map((c) => ({ ...c, detail: `worker ${index}: ${c.detail}` }));
      }),
    );
    return perWorker.flat();
  }

  #backingUp: Promise<unknown> | null = null;

  /**
   * Has every worker copy the objects of its slots into `dest` (backup.ts in
   * storage-sqlite: each at a batch boundary, while serving). Waits for a
   * reload in progress, and a reload waits for it: objects do not move
   * while they are copied.
   */
  async backup(dest: string): Promise<{ objects: number; bytes: number }> {
    await this.#reloading?.catch(() => {});
    const run = Promise.all(
      this.#current.map(async (worker, index) => {
        if (worker === null || !worker.ready)
          throw new TorporError("ERR_BACKUP_FAILED", `Worker ${index} is not running (restarting), so its objects cannot be copied; try again.`);
        const rid = this.#statsRid++;
        const reply = await Promise.race([
          new Promise<FromWorker>((resolve) => {
            this.#statsWaiters.set(rid, resolve);
            this.#send(worker, { t: "backup", rid, dest });
          }),
          worker.exited.then(() => null),
        ]);
        this.#statsWaiters.delete(rid);
        if (reply === null) throw new TorporError("ERR_BACKUP_FAILED", `Worker ${index} exited during the backup; try again.`);
        const r = reply as Extract<FromWorker, { t: "backup-reply" }>;
        if (!r.ok) throw new TorporError("ERR_BACKUP_FAILED", `Worker ${index}: ${r.error}`);
        return r;
      }),
    );
    this.#backingUp = run;
    try {
      const replies = await run;
      return { objects: replies.reduce((n, r) => n + r.objects, 0), bytes: replies.reduce((n, r) => n + r.bytes, 0) };
    } finally {
      this.#backingUp = null;
    }
  }

  /** Stops listening, stops every worker (each finishes its events, commits, closes sockets with 1012) and waits for them. */
  async stop(code?: number, reason?: string): Promise<void> {
    this.#stopping = true;
    await this.#reloading?.catch(() => {});
    this.#server?.close();
    const all = this.#current.filter((w): w is WorkerProcess => w !== null);
    for (const worker of all) {
      worker.retiring = true;
      if (worker.child.connected) this.#send(worker, { t: "stop", ...(code !== undefined ? { code } : {}), ...(reason !== undefined ? { reason } : {}) });
      else worker.child.kill("SIGTERM");
    }
    await Promise.all(all.map((w) => w.exited));
  }
}

/**
 * A socket sent to a child stays open in the sender until the child
 * acknowledges it (Node's child_process keeps it in `_pendingMessage` and
 * queues later ones in `_handleQueue`); a child that died never does, and the
 * client would wait forever. Close them so the client sees the connection drop.
 */
function closeUndeliveredHandles(child: ChildProcess): void {
  const internals = child as unknown as {
    _pendingMessage?: { handle?: { close?: () => void } } | null;
    _handleQueue?: Array<{ handle?: { close?: () => void; destroy?: () => void } }> | null;
  };
  internals._pendingMessage?.handle?.close?.();
  for (const queued of internals._handleQueue ?? []) {
    const handle = queued.handle;
    if (handle?.destroy !== undefined) handle.destroy();
    else handle?.close?.();
  }
}
