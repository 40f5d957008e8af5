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
import type { FromWorker, ToWorker } from "./ipc.ts";
import type { NodeTable } from "./node-membership.ts";
import type { NodeInit } from "./node-worker.ts";
import { PEER, type PeerServer } from "./peer-server.ts";
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
  /** A node of several machines: what its workers are told (the table follows in `table` messages). */
  node?: NodeInit;
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

  /** The peer endpoint of a node of several machines (its forwarded calls' replies go there). */
  peer: PeerServer | null = null;

  constructor(options: SupervisorOptions) {
    this.options = options;
    if (options.node !== undefined) {
      // Several machines: which slots this node serves comes from PostgreSQL, not from the file.
      this.table = { workers: options.workers, slots: [...options.node.table.slots] };
    } else {
      this.table = loadSlotTable(join(options.persistTo, "cluster"), options.workers);
      saveSlotTable(join(options.persistTo, "cluster"), this.table);
    }
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
    this.#send(worker, { t: "init", index, slots: this.table.slots, acquired, ...(this.options.node !== undefined ? { node: this.#nodeInit() } : {}) });
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
    // The deadline it was started with may have passed while it loaded: the latest one goes first.
    if (this.#nodeTable !== null) this.#send(worker, { t: "table", table: this.#nodeTable });
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

  #nodeInit(): NodeInit {
    const node = this.options.node!;
    return { ...node, table: this.#nodeTable ?? node.table };
  }

  #nodeTable: NodeTable | null = null;

  /** A node's new table (after a renewal): every worker gets it, with the new deadline. */
  setNodeTable(table: NodeTable): void {
    this.#nodeTable = table;
    this.table.slots = [...table.slots];
    for (const worker of this.#current) if (worker !== null) this.#send(worker, { t: "table", table });
  }

  /** Tells every worker the node fenced itself; resolves when they exited (or after `ms`). */
  async fence(reason: string, ms: number): Promise<void> {
    this.#stopping = true;
    this.#server?.close();
    const all = this.#current.filter((w): w is WorkerProcess => w !== null);
    for (const worker of all) {
      worker.retiring = true;
      this.#send(worker, { t: "fence", reason });
    }
    await Promise.race([Promise.all(all.map((w) => w.exited)), new Promise((resolve) => setTimeout(resolve, ms))]);
    for (const worker of all) if (worker.child.exitCode === null) worker.child.kill("SIGKILL");
  }

  /** Closes the objects of `slots` in every worker (a node handing slots over); resolves when all did. */
  async drain(slots: number[]): Promise<number> {
    const live = this.#current.filter((w): w is WorkerProcess => w !== null && w.ready);
    const counts = await Promise.all(
      live.map(async (worker) => {
        const rid = this.#statsRid++;
        const reply = await Promise.race([
          new Promise<FromWorker>((resolve) => {
            this.#statsWaiters.set(rid, resolve);
            this.#send(worker, { t: "drain", rid, slots });
          }),
          worker.exited.then(() => null),
        ]);
        this.#statsWaiters.delete(rid);
        return reply !== null && reply.t === "drained" ? reply.objects : 0;
      }),
    );
    return counts.reduce((a, b) => a + b, 0);
  }

  /** Delivers a message to worker `index` (the peer endpoint's calls and upgrades). */
  deliver(index: number, message: ToWorker, handle?: Socket): void {
    this.#deliver(index, message, handle);
  }

  /** Sends to the process of `index`, or holds the message until there is one. */
  #deliver(index: number, message: ToWorker, handle?: Socket): void {
    if (index === PEER) {
      // A reply to a call forwarded by another node.
      if (message.t === "reply") this.peer?.settle(message.rid, message.ok ? { ok: true, value: message.value } : { ok: false, error: message.error });
      return;
    }
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
      case "drained":
        this.#statsWaiters.get(message.rid)?.(message);
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

  /** Stops listening, stops every worker (each finishes its events, commits, closes sockets with 1012) and waits for them. */
  async stop(): Promise<void> {
    this.#stopping = true;
    await this.#reloading?.catch(() => {});
    this.#server?.close();
    const all = this.#current.filter((w): w is WorkerProcess => w !== null);
    for (const worker of all) {
      worker.retiring = true;
      if (worker.child.connected) this.#send(worker, { t: "stop" });
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
