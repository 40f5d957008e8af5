/**
 * The cluster supervisor: holds the listening socket and the slot table;
 * runs N worker processes; hands each client connection to a worker; routes
 * calls to the process owning the object's slot (holding them, bounded,
 * while the slot has none); relays replies, upgrades and body chunks to the
 * process they name; restarts a worker that dies, with backoff; and reloads
 * (reload.ts in this folder does the moving).
 *
 * Two invariants make it safe: a slot is owned by at most one process, given
 * only once its previous owner released it or exited (so an object never
 * runs in two processes, and its alarms are armed once); and messages are
 * addressed to a process (its serial), never to an index, so nothing meant
 * for a process that is gone reaches the one that replaced it.
 */
import type { Socket, Server } from "node:net";
import { createServer } from "node:net";
import { join } from "node:path";
import type { Clock, Logger, Metrics, ObjectInfo } from "@torpor/core";
import { systemClock } from "@torpor/core/clock";
import { TorporError } from "@torpor/core/errors";
import { slotOf } from "@torpor/core/slots";
import type { ReadyCheck } from "../health.ts";
import { BodyStreams } from "./body-streams.ts";
import { ChannelBroker } from "./channel-broker.ts";
import { type FdPassingAvailability, loadFdPassing } from "./fd-passing.ts";
import { type ClusterTimeouts, DEFAULT_CLUSTER_TIMEOUTS, RESTART_STABLE_MS, restartDelay } from "./cluster-timeouts.ts";
import type { FromWorker, ToWorker } from "./ipc.ts";
import { parseFromWorker } from "./ipc-validation.ts";
import type { NodeTable } from "./node-membership.ts";
import type { NodeInit } from "./node-worker.ts";
import { type PeerCall, type PeerReply, streamOfBytes } from "./peer-client.ts";
import { relayReference } from "./reference-messages.ts";
import { moveObjects } from "./reload-move.ts";
import { SlotOwners } from "./slot-owners.ts";
import { loadSlotTable, saveSlotTable, type SlotTable } from "./slot-table.ts";
import { takeSocket } from "./sockets.ts";
import { ownerExitedError, type WireError, type WireResponse } from "./wire.ts";
import { WorkerProcess } from "./worker-process.ts";

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
  timeouts?: Partial<ClusterTimeouts>;
  clock?: Clock;
  /** Module URLs a worker loaded (`torpor dev` watches them). */
  onImports?: (urls: string[]) => void;
  /** A node of several machines: what its workers are told (the table follows in `table` messages). */
  node?: NodeInit;
  /** Run before each generation of workers is forked (start, reload): what it returns is added to their environment (the Worker's bundle). */
  prepare?: () => Promise<Record<string, string>>;
}

export class Supervisor {
  readonly options: SupervisorOptions;
  readonly timeouts: ClusterTimeouts;
  readonly clock: Clock;
  readonly table: SlotTable;
  /** Every process alive (starting, serving or draining), by serial. */
  readonly procs = new Map<number, WorkerProcess>();
  /** The process serving each index (it gets connections and the index's slots); null while it restarts. */
  readonly serving: Array<WorkerProcess | null>;
  readonly owners: SlotOwners<WorkerProcess>;
  /** Slots a draining process was asked to give up and has not yet: nobody may take them. */
  readonly moving = new Set<number>();
  /** Bumped whenever an index gets a new process: a restart planned for an older one is dropped. */
  readonly #generation: number[];
  readonly #attempts: number[];
  #server: Server | null = null;
  #nextConn = 0;
  #serial = 0;
  #adminRid = 1;
  readonly #adminWaiters = new Map<number, { proc: WorkerProcess; resolve: (reply: FromWorker | null) => void }>();
  #stopping = false;
  #reloading: Promise<void> | null = null;
  /** What the serving generation's workers were forked with (a restart after a crash gets the same). */
  #workerEnv: Record<string, string> = {};
  url = "";
  /** A node of several machines: its latest table (null otherwise). */
  #nodeTable: NodeTable | null = null;
  /** The serial calls forwarded by other nodes come from (no process has it); their replies go to the peer endpoint. */
  readonly #peerSerial: number;
  /** Bodies of forwarded calls (request in, response out), streamed to and from workers as any process's. */
  readonly #peerBodies: BodyStreams;
  readonly #peerCalls = new Map<number, { resolve: (reply: PeerReply) => void; body: number | null; fetch: boolean }>();
  #peerRid = 1;
  /** Direct channels between workers: each ready process gets one to every other. */
  readonly #channels: ChannelBroker;
  /** The addon's fd passing (a reload moves sockets in batches) or why not (one at a time over IPC; said once, at the first such reload). */
  #fdPassing: FdPassingAvailability = { ok: false, reason: "not loaded yet" };
  #ipcMovesLogged = false;

  constructor(options: SupervisorOptions) {
    this.options = options;
    this.timeouts = { ...DEFAULT_CLUSTER_TIMEOUTS, ...options.timeouts };
    this.clock = options.clock ?? systemClock;
    this.#channels = new ChannelBroker(options.logger);
    if (options.node !== undefined) {
      // Several machines: which slots this node serves comes from PostgreSQL (-1: another node), not from the file.
      this.table = { workers: options.workers, slots: [...options.node.table.slots] };
      this.#nodeTable = options.node.table;
    } else {
      this.table = loadSlotTable(join(options.persistTo, "cluster"), options.workers);
      saveSlotTable(join(options.persistTo, "cluster"), this.table);
    }
    this.#peerSerial = options.node !== undefined ? ++this.#serial : -1;
    this.#peerBodies = new BodyStreams((message) => {
      const { to, ...rest } = message as Extract<FromWorker, { to: number }>;
      this.procs.get(to)?.send({ ...rest, from: this.#peerSerial } as ToWorker);
    });
    this.serving = new Array(options.workers).fill(null);
    this.#generation = new Array(options.workers).fill(0);
    this.#attempts = new Array(options.workers).fill(0);
    this.owners = new SlotOwners(this.clock, this.timeouts.routeTimeoutMs, (message, slot) => {
      const index = this.table.slots[slot]!;
      this.replyError(message.from, message.rid, {
        name: "TorporError",
        code: "ERR_OBJECT_UNAVAILABLE",
        message: `The object's worker (${index}) was not available within ${this.timeouts.routeTimeoutMs} ms (${this.serving[index] === null ? "it is restarting" : "its objects are moving"}); the call did not run. Retry later.`,
      });
    });
  }

  get logger(): Logger {
    return this.options.logger;
  }

  get stopping(): boolean {
    return this.#stopping;
  }

  /** Starts every worker, then listens. Rejects with the first worker's load error. */
  async start(): Promise<void> {
    this.#fdPassing = await loadFdPassing();
    this.#workerEnv = (await this.options.prepare?.()) ?? {};
    const fresh = this.serving.map((_, index) => this.spawn(index));
    const started = await Promise.allSettled(fresh.map((p) => p.ready));
    const failed = started.find((r) => r.status === "rejected");
    if (failed !== undefined) {
      await Promise.all(fresh.map((p) => this.#discard(p)));
      throw (failed as PromiseRejectedResult).reason;
    }
    for (const p of fresh) this.serve(p);
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
  workers(): Array<{ index: number; pid: number | undefined; serial: number | undefined }> {
    return this.serving.map((w, index) => ({ index, pid: w?.pid, serial: w?.serial }));
  }

  /** Forks a process for `index` (it owns nothing until `serve`). */
  spawn(index: number, env: Record<string, string> = this.#workerEnv): WorkerProcess {
    const proc = new WorkerProcess({
      script: this.options.script,
      argv: this.options.argv,
      index,
      serial: ++this.#serial,
      slots: this.table.slots,
      startTimeoutMs: this.timeouts.startTimeoutMs,
      env,
      ...(this.options.node !== undefined ? { node: { ...this.options.node, table: this.#nodeTable ?? this.options.node.table } } : {}),
      ...(this.#fdPassing.ok ? { fdPassing: this.#fdPassing.addon } : {}),
    });
    this.procs.set(proc.serial, proc);
    proc.onMessage = (message, handle) => this.#fromWorker(proc, message, handle);
    proc.onMoved = (message, fds) => this.#fromMoveChannel(proc, message, fds);
    proc.onMovesBroken = (error) =>
      this.logger.error("A worker's descriptor channel broke (its Worker code may write to fd 5); killing the worker", {
        worker: proc.index,
        pid: proc.pid,
        error: new TorporError("ERR_IPC_INVALID", `Descriptor channel of worker ${proc.index}: ${error.message}`),
      });
    proc.onControlBroken = (error) =>
      this.logger.error("A worker's control channel broke (its Worker code may write to it); killing the worker", {
        worker: proc.index,
        pid: proc.pid,
        error: new TorporError("ERR_IPC_INVALID", `Invalid frame from worker ${proc.index}: ${error.message}.`),
      });
    void proc.exited.then((code) => this.#exited(proc, code));
    proc.ready.then(
      () => this.#channels.join(proc),
      () => {},
    );
    return proc;
  }

  /** Makes `proc` the process of its index: it gets connections and every free slot of the index. */
  serve(proc: WorkerProcess): void {
    this.#generation[proc.index]!++;
    this.serving[proc.index] = proc;
    proc.state = "serving";
    proc.servingSince = this.clock.now();
    // Tables sent while it loaded found no listener: the latest goes first (its slots and deadline), then its slots.
    if (this.#nodeTable !== null) proc.send({ t: "table", table: this.#nodeTable });
    this.assignFree(proc.index);
  }

  /** Gives the index's slots that nobody owns (and that are not moving) to its serving process, with the calls that waited for them. */
  assignFree(index: number): void {
    const proc = this.serving[index];
    if (proc === null || proc === undefined || proc.state !== "serving") return;
    const free: number[] = [];
    for (let s = 0; s < this.table.slots.length; s++) {
      if (this.table.slots[s] === index && this.owners.owner(s) === null && !this.moving.has(s)) free.push(s);
    }
    if (free.length === 0) return;
    // The worker learns of its slots before any call for them (IPC keeps order).
    proc.send({ t: "acquire", slots: free });
    for (const s of free) proc.owned.add(s);
    for (const message of this.owners.assign(free, proc)) this.#sendCall(proc, message);
  }

  /** Answers a routed call with an error (its caller may be gone: then nothing happens). */
  replyError(to: number, rid: number, error: WireError): void {
    if (to === this.#peerSerial) this.#peerReply({ t: "reply", rid, from: 0, ok: false, error });
    else this.procs.get(to)?.send({ t: "reply", rid, from: 0, ok: false, error });
  }

  /** Routes a call to the process owning its slot now, holds it while the slot has none, or refuses it when another node holds it. */
  #routeCall(call: Extract<ToWorker, { t: "call" }>): void {
    const slot = slotOf(call.key.id);
    const owner = this.owners.owner(slot);
    if (owner !== null) this.#sendCall(owner, call);
    else if (this.#nodeTable !== null && (this.table.slots[slot] ?? -1) < 0)
      this.replyError(call.from, call.rid, {
        name: "TorporError",
        code: "ERR_OBJECT_NOT_LOCAL",
        message: "Another node holds this object's slot now; the call did not run.",
      });
    else this.owners.hold(slot, call);
  }

  // ---- a node of several machines -----------------------------------------

  /** A node's new table (after a renewal): slots it lost are taken from their workers, slots it gained given out, every worker told. */
  setNodeTable(table: NodeTable): void {
    this.#nodeTable = table;
    const lost: number[] = [];
    for (let s = 0; s < table.slots.length; s++) {
      if (table.slots[s]! < 0 && this.table.slots[s]! >= 0) lost.push(s);
      this.table.slots[s] = table.slots[s]!;
    }
    for (const s of lost) this.owners.owner(s)?.owned.delete(s);
    this.owners.unassign(lost);
    for (const proc of this.procs.values()) proc.send({ t: "table", table });
    for (let index = 0; index < this.serving.length; index++) this.assignFree(index);
  }

  /** Tells every worker the node fenced itself; resolves when they exited (or after `ms`, then they are killed). */
  async fence(reason: string, ms: number): Promise<void> {
    this.#stopping = true;
    this.#server?.close();
    const all = [...this.procs.values()];
    for (const proc of all) proc.send({ t: "fence", reason });
    await Promise.race([Promise.all(all.map((p) => p.exited)), new Promise((resolve) => setTimeout(resolve, ms))]);
    for (const proc of all) proc.kill();
    this.#channels.close();
  }

  /** Closes the objects of `slots` in every worker (a node handing slots over); resolves when all did. */
  async drain(slots: number[]): Promise<number> {
    const live = this.serving.filter((w): w is WorkerProcess => w !== null && w.alive);
    const replies = await Promise.all(live.map((proc) => this.#ask(proc, (rid) => ({ t: "drain", rid, slots }), null)));
    return replies.reduce((n, r) => n + (r !== null && r.t === "drained" ? r.objects : 0), 0);
  }

  /** A call another node forwarded (peer-server.ts): routed like a worker's, answered to the peer endpoint. */
  peerCall(call: PeerCall): Promise<PeerReply> {
    const rid = this.#peerRid++;
    let op = call.op;
    let body: number | null = null;
    if (op.op === "fetch" && call.body !== undefined && call.body !== null) {
      body = this.#peerBodies.outgoing(streamOfBytes(call.body), null);
      op = { ...op, request: { ...op.request, body: { stream: body } } };
    }
    return new Promise((resolve) => {
      this.#peerCalls.set(rid, { resolve, body, fetch: op.op === "fetch" });
      this.#routeCall({ t: "call", rid, key: call.key, ...op, from: this.#peerSerial } as Extract<ToWorker, { t: "call" }>);
    });
  }

  /** An upgrade spliced from another node, for the process (`owner`, a serial) holding the accepted WebSocket. */
  peerUpgrade(owner: number, message: Extract<ToWorker, { t: "upgrade" }>, socket: Socket): void {
    const target = this.procs.get(owner);
    if (target === undefined) socket.destroy();
    else target.send(message, socket);
  }

  /** The other node's Worker did not take the WebSocket: its owner drops it. */
  peerAbandon(owner: number, token: number): void {
    this.procs.get(owner)?.send({ t: "abandon", token });
  }

  /** A reply to a forwarded call: a fetch's response body is read whole (across nodes bodies travel whole). */
  #peerReply(message: Extract<ToWorker, { t: "reply" }>): void {
    const pending = this.#peerCalls.get(message.rid);
    if (pending === undefined) return;
    this.#peerCalls.delete(message.rid);
    if (!message.ok) {
      if (pending.body !== null) this.#peerBodies.cancelOutgoing(pending.body);
      pending.resolve({ ok: false, error: message.error });
      return;
    }
    if (!pending.fetch) {
      pending.resolve({ ok: true, value: message.value });
      return;
    }
    const wire = message.value as WireResponse;
    if (wire.body === null) {
      pending.resolve({ ok: true, value: wire, body: null });
      return;
    }
    const stream = this.#peerBodies.incoming(message.from, wire.body.stream, false);
    new Response(stream).arrayBuffer().then(
      (bytes) => pending.resolve({ ok: true, value: { ...wire, body: null }, body: new Uint8Array(bytes) }),
      (error: unknown) => pending.resolve({ ok: false, error: { name: "Error", message: `The response body failed: ${(error as Error)?.message ?? error}` } }),
    );
  }

  #sendCall(proc: WorkerProcess, message: Extract<ToWorker, { t: "call" }>): void {
    proc.inflight.set(`${message.from}:${message.rid}`, { from: message.from, rid: message.rid });
    proc.send(message);
  }

  #connection(socket: Socket): void {
    socket.on("error", () => {});
    const ready = this.serving.filter((w): w is WorkerProcess => w !== null && w.state === "serving" && w.child.connected);
    if (ready.length === 0 || this.#stopping) {
      socket.destroy();
      return;
    }
    ready[this.#nextConn++ % ready.length]!.send({ t: "conn" }, socket);
  }

  #fromWorker(proc: WorkerProcess, raw: unknown, handle?: Socket): void {
    const parsed = parseFromWorker(raw);
    if (!parsed.ok) {
      handle?.destroy();
      this.logger.error("Dropped an invalid message from a worker (its Worker code may call process.send)", {
        worker: proc.index,
        pid: proc.pid,
        error: new TorporError("ERR_IPC_INVALID", `Invalid message from worker ${proc.index}: ${parsed.reason}.`),
      });
      return;
    }
    const message = parsed.message;
    switch (message.t) {
      case "call": {
        const { t, rid, key, ...op } = message;
        this.#routeCall({ t, rid, key, ...op, from: proc.serial } as Extract<ToWorker, { t: "call" }>);
        return;
      }
      case "reply": {
        // Only the process a call went to may answer it, once.
        if (!proc.inflight.delete(`${message.to}:${message.rid}`)) return;
        const { to, ...rest } = message;
        if (to === this.#peerSerial) this.#peerReply({ ...rest, from: proc.serial } as Extract<ToWorker, { t: "reply" }>);
        else this.procs.get(to)?.send({ ...rest, from: proc.serial } as ToWorker);
        return;
      }
      case "ref-call":
      case "ref-reply":
      case "ref-release":
        relayReference(this.procs, proc.serial, message);
        return;
      case "upgrade": {
        // Bytes this process may have read after receiving the socket travel with the request's head.
        const more = handle === undefined ? Buffer.alloc(0) : takeSocket(handle);
        const target = this.procs.get(message.to);
        if (target === undefined) {
          handle?.destroy();
          return;
        }
        const { to, ...rest } = message;
        target.send({ ...rest, head: more.length > 0 ? Buffer.concat([message.head, more]) : message.head }, handle);
        return;
      }
      case "abandon": {
        const { to, ...rest } = message;
        this.procs.get(to)?.send(rest);
        return;
      }
      case "sockets":
        // Only on the descriptor channel (#fromMoveChannel), where its descriptors are.
        return;
      case "socket": {
        const more = handle === undefined ? Buffer.alloc(0) : takeSocket(handle);
        const moved = more.length > 0 ? { ...message.moved, unparsed: Buffer.concat([message.moved.unparsed, more]) } : message.moved;
        const target = proc.move?.successor;
        if (target === undefined || !target.alive) handle?.destroy();
        else target.send({ t: "socket", moved }, handle);
        return;
      }
      case "auto-response":
        proc.move?.successor.send(message);
        return;
      case "released": {
        const move = proc.move;
        if (move === null) return;
        for (const s of message.slots) if (move.releasing.delete(s)) this.moving.delete(s);
        move.sockets += message.sockets;
        move.closed += message.closed;
        this.assignFree(proc.index);
        if (move.releasing.size === 0) move.done();
        return;
      }
      case "moved-in-reply":
      case "stats-reply":
      case "hibernate-reply":
      case "drained":
      case "health-reply":
      case "backup-reply": {
        const waiter = this.#adminWaiters.get(message.rid);
        if (waiter?.proc === proc) waiter.resolve(message);
        return;
      }
      case "body-chunk":
      case "body-end":
      case "body-credit":
      case "body-cancel": {
        const { to, ...rest } = message;
        if (to === this.#peerSerial) this.#peerBodies.onMessage({ ...rest, from: proc.serial });
        else this.procs.get(to)?.send({ ...rest, from: proc.serial } as ToWorker);
        return;
      }
      case "imports":
        this.options.onImports?.(message.urls);
        return;
      case "ready":
      case "failed":
        return;
    }
  }

  /** True when a reload may move `old`'s sockets to `successor` in batches; else says once why they go one at a time. */
  batchedMove(old: WorkerProcess, successor: WorkerProcess): boolean {
    if (old.batchedMoves && successor.batchedMoves) return true;
    if (!this.#ipcMovesLogged) {
      this.#ipcMovesLogged = true;
      const reason = this.#fdPassing.ok ? "a worker could not open its descriptor channel (see its log)" : this.#fdPassing.reason;
      this.logger.warn("Reloads move sockets over Node IPC, one at a time (slower: a process round trip per socket)", { reason });
    }
    return false;
  }

  /**
   * A reload's message on a worker's descriptor channel (fd-channel.ts): its moved sockets, in batches, go on to its
   * successor on the successor's channel, with its objects' auto-responses (in the same order); `released` is
   * handled as on IPC. Anything else there is the Worker's code writing to fd 5: dropped, its descriptors closed.
   */
  #fromMoveChannel(proc: WorkerProcess, raw: unknown, fds: number[]): void {
    const parsed = parseFromWorker(raw);
    const message = parsed.ok ? parsed.message : null;
    const fit =
      message !== null &&
      (message.t === "sockets" ? message.moved.length === fds.length : fds.length === 0 && (message.t === "auto-response" || message.t === "released"));
    if (!fit) {
      proc.closeFds(fds);
      this.logger.error("Dropped an invalid message on a worker's descriptor channel (its Worker code may write to fd 5)", {
        worker: proc.index,
        pid: proc.pid,
        error: new TorporError(
          "ERR_IPC_INVALID",
          `Invalid message from worker ${proc.index}: ${parsed.ok ? `${parsed.message.t} with ${fds.length} descriptor(s)` : parsed.reason}.`,
        ),
      });
      return;
    }
    const target = proc.move?.successor;
    switch (message.t) {
      case "sockets":
      case "auto-response":
        if (target === undefined) proc.closeFds(fds);
        else target.sendMoved(message, fds);
        return;
      default:
        this.#fromWorker(proc, message);
    }
  }

  #exited(proc: WorkerProcess, code: number | string): void {
    this.procs.delete(proc.serial);
    this.#channels.leave(proc);
    proc.closeUndeliveredHandles();
    for (const other of this.procs.values()) other.send({ t: "exited", serial: proc.serial });
    this.#peerBodies.peerExited(proc.serial);
    // Calls it will never answer: the caller gets an error (the call may or may not have run, as when a Cloudflare object resets).
    for (const { from, rid } of proc.inflight.values()) {
      this.replyError(from, rid, ownerExitedError(code));
    }
    proc.inflight.clear();
    this.owners.dropFrom(proc.serial);
    for (const [rid, waiter] of this.#adminWaiters) {
      if (waiter.proc === proc) {
        this.#adminWaiters.delete(rid);
        waiter.resolve(null);
      }
    }
    this.owners.unassign(this.owners.ownedBy(proc));
    proc.owned.clear();
    if (proc.move !== null) {
      // What it had not released goes to its successor now (it can no longer run anything).
      for (const s of proc.move.releasing) this.moving.delete(s);
      proc.move.releasing.clear();
      proc.move.done();
    }
    if (this.serving[proc.index] === proc) {
      this.serving[proc.index] = null;
      if (!this.#stopping) this.#restart(proc, code);
    } else this.assignFree(proc.index);
  }

  #restart(dead: WorkerProcess, code: number | string): void {
    const index = dead.index;
    const stable = dead.servingSince !== null && this.clock.now() - dead.servingSince >= RESTART_STABLE_MS;
    const attempt = stable ? 1 : ++this.#attempts[index]!;
    if (stable) this.#attempts[index] = 1;
    const delay = restartDelay(attempt);
    this.logger.error(`Worker ${index} exited (${code}); restarting it ${delay === 0 ? "now" : `in ${delay} ms`} (attempt ${attempt})`, {
      worker: index,
      pid: dead.pid,
      code,
      attempt,
      delayMs: delay,
    });
    const generation = ++this.#generation[index]!;
    this.clock.setTimeout(() => void this.#restartNow(index, generation, attempt), delay);
  }

  async #restartNow(index: number, generation: number, attempt: number): Promise<void> {
    if (this.#stopping || this.#generation[index] !== generation) return;
    const proc = this.spawn(index);
    try {
      await proc.ready;
    } catch (error) {
      this.logger.error(`Worker ${index} failed to start (attempt ${attempt})`, { worker: index, attempt, error });
      await this.#discard(proc);
      if (!this.#stopping && this.#generation[index] === generation) this.#restart(proc, "failed to start");
      return;
    }
    // A reload gave the index to a new process meanwhile, or this one already died: it does not serve.
    if (this.#stopping || this.#generation[index] !== generation || !proc.alive) {
      if (proc.alive) await this.#discard(proc);
      else if (!this.#stopping && this.#generation[index] === generation) this.#restart(proc, proc.exitCode ?? "exited");
      return;
    }
    this.serve(proc);
    this.logger.info("Worker restarted", { worker: index, pid: proc.pid, attempt });
  }

  /** Stops a process that never served (a failed start, a restart a reload made useless). */
  async #discard(proc: WorkerProcess): Promise<void> {
    proc.state = "draining";
    if (proc.child.connected) await proc.stop(this.timeouts.stopTimeoutMs, () => this.#killed(proc));
    else {
      proc.kill();
      await proc.exited;
    }
  }

  #killed(proc: WorkerProcess): void {
    this.logger.error("A worker did not stop in time; killed", {
      worker: proc.index,
      pid: proc.pid,
      error: new TorporError(
        "ERR_STOP_TIMEOUT",
        `Worker ${proc.index} (pid ${proc.pid}) did not exit within ${this.timeouts.stopTimeoutMs} ms of being told to stop.`,
      ),
    });
  }

  /**
   * Starts workers with the code on disk now and moves every object to them.
   * If the new code fails to load (or a new worker dies before it serves), the
   * old workers keep serving and this rejects.
   */
  reload(): Promise<void> {
    if (this.#stopping) return Promise.reject(new TorporError("ERR_RUNTIME_CLOSED", "The cluster is stopping."));
    this.#reloading ??= this.#reload().finally(() => (this.#reloading = null));
    return this.#reloading;
  }

  async #reload(): Promise<void> {
    // A backup copies each object in its owner: ownership must not move under it.
    await this.#backingUp?.catch(() => {});
    const started = this.clock.now();
    // The new code, bundled once for every new worker (a Worker that does not build fails the reload here).
    const env = (await this.options.prepare?.()) ?? this.#workerEnv;
    const fresh = this.serving.map((_, index) => this.spawn(index, env));
    const results = await Promise.allSettled(fresh.map((p) => p.ready));
    const failed = results.find((r) => r.status === "rejected") as PromiseRejectedResult | undefined;
    // A new worker that died after saying ready is never installed: the reload fails as if it had not loaded.
    const dead = fresh.find((p) => !p.alive);
    if (failed !== undefined || dead !== undefined || this.#stopping) {
      await Promise.all(fresh.map((p) => this.#discard(p)));
      if (failed !== undefined) throw failed.reason;
      if (dead !== undefined) throw new TorporError("ERR_OBJECT_OWNER_EXITED", `New worker ${dead.index} exited (${dead.exitCode}) right after it was ready.`);
      throw new TorporError("ERR_RUNTIME_CLOSED", "The cluster is stopping.");
    }
    this.#workerEnv = env;
    const moveStarted = this.clock.now();
    const counts = await moveObjects(this, fresh);
    // ms: the whole reload; moveMs: from the new workers being ready to their holding every moved socket (what clients could notice).
    this.logger.info("Reloaded", { workers: fresh.length, ...counts, ms: this.clock.now() - started, moveMs: this.clock.now() - moveStarted });
  }

  /** Called by the reload once `old` gave up its objects (or was stopped): it drains its in-flight requests and exits. */
  retire(old: WorkerProcess): Promise<void> {
    return old.stop(this.timeouts.stopTimeoutMs, () => this.#killed(old));
  }

  /** Asks every serving worker for its metrics and objects; a worker that does not answer within `adminTimeoutMs` is left out (and logged). */
  async stats(): Promise<Array<{ index: number; metrics: Metrics; objects: ObjectInfo[] }>> {
    const live = this.serving.filter((w): w is WorkerProcess => w !== null && w.alive);
    const replies = await Promise.all(
      live.map(async (proc) => {
        const reply = (await this.#ask(proc, (rid) => ({ t: "stats", rid }))) as Extract<FromWorker, { t: "stats-reply" }> | null;
        return reply === null ? null : { index: proc.index, metrics: reply.metrics, objects: reply.objects };
      }),
    );
    return replies.filter((r) => r !== null);
  }

  /** Resolves once `proc` handled everything a reload sent it (its moved sockets adopted, its slots acquired), or could not tell within the move bound. */
  async movedIn(proc: WorkerProcess): Promise<void> {
    if (proc.alive) await this.#ask(proc, (rid) => ({ t: "moved-in", rid }), this.timeouts.moveTimeoutMs);
  }

  /** Forces hibernation of one object, in the process owning its slot. */
  async hibernate(slot: number, binding: string, name: string): Promise<{ status: number; body: unknown }> {
    const owner = this.owners.owner(slot);
    const unavailable = (why: string) => ({ status: 503, body: { error: { code: "ERR_OBJECT_UNAVAILABLE", message: `The object's worker ${why}.` } } });
    if (owner === null) return unavailable("is restarting or taking its objects over");
    const reply = (await this.#ask(owner, (rid) => ({ t: "hibernate", rid, binding, name }))) as Extract<FromWorker, { t: "hibernate-reply" }> | null;
    return reply === null ? unavailable(`did not answer within ${this.timeouts.adminTimeoutMs} ms`) : { status: reply.status, body: reply.body };
  }

  /** One admin request to one process; null when it exits or does not answer within `timeoutMs` (null: no bound, as for a backup). */
  #ask(proc: WorkerProcess, message: (rid: number) => ToWorker, timeoutMs: number | null = this.timeouts.adminTimeoutMs): Promise<FromWorker | null> {
    const rid = this.#adminRid++;
    return new Promise((resolve) => {
      const timer =
        timeoutMs === null
          ? null
          : this.clock.setTimeout(() => {
              this.#adminWaiters.delete(rid);
              this.logger.warn("A worker did not answer an admin request in time", {
                worker: proc.index,
                pid: proc.pid,
                error: new TorporError("ERR_WORKER_UNRESPONSIVE", `Worker ${proc.index} did not answer within ${timeoutMs} ms.`),
              });
              resolve(null);
            }, timeoutMs);
      this.#adminWaiters.set(rid, {
        proc,
        resolve: (reply) => {
          timer?.cancel();
          this.#adminWaiters.delete(rid);
          resolve(reply);
        },
      });
      proc.send(message(rid));
    });
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
      this.serving.map(async (proc, index): Promise<ReadyCheck[]> => {
        if (proc === null || !proc.alive) {
          if (reloading) return [{ name: "workers", ok: true, detail: `worker ${index} is moving to new code (reload)` }];
          return [{ name: "workers", ok: false, detail: `worker ${index} is not running (it is restarting, or failed to)` }];
        }
        const reply = (await this.#ask(proc, (rid) => ({ t: "health", rid }), timeoutMs)) as Extract<FromWorker, { t: "health-reply" }> | null;
        if (reply === null) return [{ name: "workers", ok: false, detail: `worker ${index} did not answer within ${timeoutMs} ms` }];
        return reply.checks.map((c) => ({ ...c, detail: `worker ${index}: ${c.detail}` }));
      }),
    );
    return perWorker.flat();
  }

  #backingUp: Promise<unknown> | null = null;

  /**
   * Has every worker copy the objects of the slots it owns into `dest`
   * (backup.ts in storage-sqlite: each at a batch boundary, while serving).
   * Waits for a reload in progress, and a reload waits for it: objects do
   * not move while they are copied.
   */
  async backup(dest: string): Promise<{ objects: number; bytes: number }> {
    await this.#reloading?.catch(() => {});
    const run = Promise.all(
      this.serving.map(async (proc, index) => {
        // Every slot of the index must be owned by it: a restarting index's objects cannot be copied by anyone.
        if (proc === null || proc.state !== "serving" || this.table.slots.some((owner, s) => owner === index && this.owners.owner(s) !== proc))
          throw new TorporError("ERR_BACKUP_FAILED", `Worker ${index} is not running (restarting), so its objects cannot be copied; try again.`);
        const reply = (await this.#ask(proc, (rid) => ({ t: "backup", rid, dest }), null)) as Extract<FromWorker, { t: "backup-reply" }> | null;
        if (reply === null) throw new TorporError("ERR_BACKUP_FAILED", `Worker ${index} exited during the backup; try again.`);
        if (!reply.ok) throw new TorporError("ERR_BACKUP_FAILED", `Worker ${index}: ${reply.error}`);
        return reply;
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

  /**
   * Stops listening and stops every process (serving, draining after a reload,
   * or starting): each finishes its in-flight requests and events, commits,
   * closes sockets with `code` (1012 unless told), within `stopTimeoutMs`,
   * else it is killed. Resolves only once every child has exited, so the
   * caller may then let the data directory go.
   */
  async stop(code?: number, reason?: string): Promise<void> {
    this.#stopping = true;
    for (let i = 0; i < this.#generation.length; i++) this.#generation[i]!++;
    this.#server?.close();
    await this.#reloading?.catch(() => {});
    this.owners.failAll();
    await Promise.all(
      [...this.procs.values()].map((proc) => {
        if (proc.state === "starting") {
          proc.kill();
          return proc.exited;
        }
        return proc.stop(this.timeouts.stopTimeoutMs, () => this.#killed(proc), code, reason);
      }),
    );
    this.#channels.close();
  }
}
