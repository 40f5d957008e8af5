import type { Socket } from "node:net";
import { AlarmScheduler } from "./alarm-scheduler.ts";
import { TorporError } from "../errors.ts";
import { runAs } from "./fault-isolation.ts";
import { failQueued, runEvent, runMessage } from "./event-dispatch.ts";
import { type Incarnation, objectResetError } from "./incarnation.ts";
import { Incarnations } from "./incarnations.ts";
import type { HostEvent } from "./host-event.ts";
import { HostSockets, type ExportedSockets } from "./host-sockets.ts";
import { pauseIfOver, resumeIfUnder } from "./inbound-backpressure.ts";
import type { DurableObjectId } from "../ids/id.ts";
import { InputGate } from "./input-gate.ts";
import type { Logger } from "../logger.ts";
import type { Metrics, ObjectCounters } from "../metrics.ts";
import type { ObjectOptions } from "../options.ts";
import { OutputGate } from "./output-gate.ts";
import type { HostControl, ObjectLifecycle } from "./host-control.ts";
import type { MovedSocket } from "../websocket/moved-socket.ts";
import { PendingClose, type Message, type SocketEnd, type SocketOwner } from "../websocket/socket-end.ts";
import { DurableObjectState, type StateHost } from "./state.ts";
import type { ObjectKey, ObjectStorage } from "../storage/storage-provider.ts";
import type { WebSocketRequestResponsePair } from "../websocket/auto-response.ts";
import { IdleTimer } from "./idle-timer.ts";
import { InstanceHooks, storageOpenError } from "./storage-hooks.ts";

export type { ExportedSocket, ExportedSockets } from "./host-sockets.ts";
import type { DurableObjectClass, HostRuntime } from "./host-runtime.ts";
export type { DurableObjectClass, HostRuntime } from "./host-runtime.ts";
export type { ObjectLifecycle } from "./host-control.ts";

/**
 * Keeps one object alive across hibernation: its lifecycle. The host is
 * cheap and outlives its instance: it holds the sockets (`HostSockets`:
 * registry, routing, moves), the auto-response pair, the event queue, the
 * alarm scheduler and the counters; the instance (and its storage handle) is
 * created on the first event and dropped when idle. When events start is its
 * `InputGate`'s call; commits and held output belong to its `OutputGate`,
 * alarm timers and retries to its `AlarmScheduler`.
 */
export class ObjectHost implements SocketOwner, StateHost, HostControl {
  readonly sockets: HostSockets = new HostSockets(this);
  readonly counters: ObjectCounters = { constructed: 0, woken: 0, evicted: 0, events: 0, errors: 0 };
  /** The kind and time of the last event delivered to an instance (the admin dashboard shows it). */
  lastEventKind: HostEvent["kind"] | null = null;
  lastEventAt = 0;
  autoResponse: WebSocketRequestResponsePair | null = null;
  eventTimeoutMs: number | null;

  instance: Record<string, unknown> | null = null;
  #ctx: DurableObjectState | null = null;
  #storage: ObjectStorage | null = null;

  /** When events start (Cloudflare's input gate). */
  readonly input: InputGate = new InputGate(this);
  #waitUntil = 0;

  /** Holds sends and results until writes are durable; the only place a commit happens. */
  readonly gate: OutputGate = new OutputGate(this);
  readonly alarms: AlarmScheduler = new AlarmScheduler(this);
  /** The async contexts of the instance's code: the live one, where exceptions escaping it are attributed, and discarded ones. */
  readonly incarnations: Incarnations = new Incarnations(this);

  /** Sockets not being read because this object has too many events pending (inbound-backpressure.ts). */
  #paused: SocketEnd[] | null = null;
  /** Hibernates the live instance once idle (made with the instance). */
  #idle: IdleTimer | null = null;
  /** The provider's prepare() for the next construction is pending. */
  #preparing = false;
  #closing = false;
  #stopped = false;

  constructor(
    readonly runtime: HostRuntime,
    readonly cls: DurableObjectClass,
    readonly id: DurableObjectId,
    readonly key: ObjectKey,
  ) {
    this.eventTimeoutMs = runtime.options.eventTimeoutMs;
  }

  get options(): ObjectOptions {
    return this.runtime.options;
  }

  get metrics(): Metrics {
    return this.runtime.metrics;
  }

  get logger(): Logger {
    return this.runtime.options.logger;
  }

  get objectId(): string {
    return this.key.id;
  }

  get maxAttachmentBytes(): number {
    return this.runtime.options.limits.maxAttachmentBytes;
  }

  /** SocketOwner: the compatibility date's `web_socket_auto_reply_to_close`. */
  get autoReplyToClose(): boolean {
    return this.runtime.options.compatibility.webSocketAutoReplyToClose;
  }

  get lifecycle(): ObjectLifecycle {
    return this.instance === null ? "hibernated" : "live";
  }

  /** The async context of the live instance's code (event-dispatch.ts runs events in it). */
  get incarnation(): Incarnation | null {
    return this.incarnations.current;
  }

  get socketCount(): number {
    return this.sockets.size;
  }

  /**
   * Hibernated with nothing to keep: no sockets, no alarm, nothing queued. The runtime then holds
   * the host only weakly, so an object visited once costs no memory once it hibernates.
   */
  get disposable(): boolean {
    return this.instance === null && this.sockets.size === 0 && this.sockets.standardCount === 0 && !this.alarms.armed && this.input.queued === 0;
  }

  /** Why the instance cannot be dropped now; empty when it can. */
  blockers(): string[] {
    const out: string[] = [];
    this.sockets.pruneStandard();
    const input = this.input;
    if (input.running > 0) out.push(`${input.running} event(s) in flight`);
    if (input.queued > 0) out.push(`${input.queued} event(s) queued`);
    if (input.holds > 0) out.push("blockConcurrencyWhile() or a storage transaction is pending");
    if (this.#waitUntil > 0) out.push(`${this.#waitUntil} waitUntil() promise(s) pending`);
    const standard = this.sockets.standardCount;
    if (standard > 0) out.push(`${standard} WebSocket(s) accepted with ws.accept() (use ctx.acceptWebSocket() to allow hibernation)`);
    if (this.gate.holding) out.push("storage writes not yet committed");
    const timers = this.incarnations.current?.pendingTimers ?? 0;
    if (timers > 0) out.push(`${timers} timer(s) pending (setTimeout/setInterval; an object with pending timers does not hibernate, as on Cloudflare)`);
    const connections = this.incarnations.current?.openConnections ?? 0;
    if (connections > 0) out.push(`${connections} connection(s) its code opened or accepted still open (open I/O keeps an object in memory, as on Cloudflare)`);
    return out;
  }

  // ---- event delivery -------------------------------------------------------

  /** Queues an event; constructs the instance first if it is hibernated. */
  deliver(event: HostEvent): void {
    if (this.#stopped) {
      // After shutdown only stragglers arrive (close events of the sockets we closed).
      if (event.kind === "call" || event.kind === "alarm") event.reject?.(new TorporError("ERR_RUNTIME_CLOSED", "The runtime has shut down."));
      return;
    }
    if (this.#closing && event.kind === "call") {
      event.reject(new TorporError("ERR_RUNTIME_CLOSED", "The runtime is shutting down; no new requests are accepted."));
      return;
    }
    const input = this.input;
    if (this.instance !== null && input.free) {
      input.startNow(event);
      return;
    }
    input.enqueue(event);
    if (this.instance === null && !this.#construct()) return;
    input.kick();
  }

  /** A hibernatable socket's message: run at once on a live instance with nothing running or queued (no event record), else queued as any event. */
  deliverMessage(end: SocketEnd, data: Message): void {
    const input = this.input;
    if (this.instance !== null && input.free && !this.#stopped) {
      input.enter();
      runMessage(this, end, data);
      return;
    }
    this.deliver({ kind: "webSocketMessage", end, args: [data] });
  }

  /** Runs `call` inside the object through the gate; the result waits for the output gate. */
  call<T>(call: (instance: Record<string, unknown>) => T | Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.deliver({ kind: "call", call, resolve: resolve as (value: unknown) => void, reject });
    });
  }

  /** InputGateOwner: an instance exists (constructed now if hibernated). */
  ready(): boolean {
    return this.instance !== null || this.#construct();
  }

  /** InputGateOwner: runs one event the input gate started (event-dispatch.ts). */
  run(event: HostEvent): void {
    runEvent(this, event);
  }

  /** The one place an error of the object's code is counted and logged, with the object's id and name. */
  report(message: string, error: unknown, event?: HostEvent["kind"]): void {
    this.counters.errors++;
    this.runtime.metrics.handlerErrors++;
    // The storage name of a namespace is its binding's name.
    const fields = { binding: this.key.namespace, object: this.key.id, name: this.key.name, ...(event === undefined ? {} : { event }), error };
    this.runtime.options.logger.error(message, fields);
  }

  /** Logs and counts an error a handler threw. */
  reportHandlerError(event: HostEvent, error: unknown): void {
    this.report(`Uncaught error in ${event.kind === "listener" ? "a WebSocket event listener" : `${event.kind}()`}`, error, event.kind);
  }

  // ---- construction and hibernation ---------------------------------------

  /**
   * Creates a fresh instance (first start or wake). Returns false if its storage or constructor failed (queued events
   * failed), or while the provider prepares the object (events stay queued; construction resumes when it is ready).
   */
  #construct(): boolean {
    const runtime = this.runtime;
    if (this.#preparing) return false;
    const preparing = runtime.provider.prepare?.(this.key) ?? null;
    if (preparing !== null) {
      this.#preparing = true;
      preparing.then(
        () => {
          this.#preparing = false;
          if (this.instance === null && this.input.queued > 0 && this.#construct()) this.input.kick();
        },
        (cause: unknown) => {
          this.#preparing = false;
          this.#openFailed(cause);
        },
      );
      return false;
    }
    let storage: ObjectStorage;
    try {
      storage = runtime.provider.open(this.key, new InstanceHooks(this));
    } catch (cause) {
      this.#openFailed(cause);
      return false;
    }
    const ctx = new DurableObjectState(this, storage);
    this.#storage = storage;
    this.#ctx = ctx;
    const wasConstructed = this.counters.constructed > 0;
    this.counters.constructed++;
    runtime.metrics.constructions++;
    if (wasConstructed) {
      this.counters.woken++;
      runtime.metrics.wakes++;
    }
    const incarnation = this.incarnations.begin();
    try {
      this.instance = runAs(incarnation, () => new this.cls(ctx, runtime.env as never) as Record<string, unknown>);
    } catch (error) {
      this.incarnations.current = null;
      this.#storage = null;
      this.#ctx = null;
      storage.close();
      this.report("Durable Object constructor threw", error);
      failQueued(this, error);
      return false;
    }
    this.#idle = new IdleTimer(this);
    runtime.touched(this);
    if (!this.alarms.armed) {
      let time: number | null = null;
      try {
        time = storage.alarmTime();
      } catch {
        // A provider that opens its file lazily fails here on an unreadable file. The event that
        // woke the object meets the same error (an alarm event is retried with backoff from there).
      }
      this.alarms.schedule(time);
    }
    return true;
  }

  /**
   * The storage could not be opened (disk full, out of file descriptors, a
   * corrupt file): every queued event fails now with ERR_STORAGE_OPEN and is
   * not run later; sockets waiting on it are closed with 1011.
   */
  #openFailed(cause: unknown): void {
    const error = storageOpenError(this.key, cause);
    this.report("Durable Object storage could not be opened", error);
    failQueued(this, error, "Durable Object storage could not be opened");
  }

  /** The storage of the live instance. */
  get storage(): ObjectStorage | null {
    return this.#storage;
  }

  /** Drops the instance if nothing pins it. Returns the blockers when it cannot. */
  hibernate(): string[] {
    if (this.instance === null) return [];
    const blockers = this.blockers();
    if (blockers.length > 0) return blockers;
    this.incarnations.retire();
    this.#release();
    this.counters.evicted++;
    this.runtime.metrics.evictions++;
    return [];
  }

  /** Resolves once no event is running or queued. */
  drained(): Promise<void> {
    return this.input.drained();
  }

  #release(): void {
    this.#idle?.cancel();
    this.#idle = null;
    const storage = this.#storage;
    this.instance = null;
    this.incarnations.current = null;
    this.#ctx = null;
    this.#storage = null;
    // The handlers' WebSocket objects die with the instance; the connections live on.
    for (const end of this.sockets) end.facade = null;
    storage?.close();
    this.runtime.released(this);
  }

  /** InputGateOwner: a blockConcurrencyWhile() callback threw. As Cloudflare documents, the object is reset. */
  blockFailed(error: unknown): void {
    this.report("A blockConcurrencyWhile() callback threw; resetting the object", error);
    failQueued(this, error);
    this.reset(1011, "Durable Object reset: blockConcurrencyWhile() callback threw", error);
  }

  /** InputGateOwner: nothing runs or waits; start the idle timer. */
  idle(): void {
    if (!this.#closing) this.#idle?.arm();
  }

  /** Re-arms the idle timer after a pin went away. */
  unpinned(): void {
    if (this.input.running === 0 && this.input.queued === 0) this.idle();
  }

  // ---- gate holds -------------------------------------------------------------

  /** `blockConcurrencyWhile`: no other event starts until `fn` settles. */
  blockConcurrencyWhile<T>(fn: () => T | Promise<T>): Promise<T> {
    return this.input.blockConcurrencyWhile(fn);
  }

  /** When this object's armed alarm timer fires, or null (the admin dashboard's "pending alarm"). */
  get alarmAt(): number | null {
    return this.alarms.at;
  }

  waitUntil(promise: Promise<unknown>): void {
    this.#waitUntil++;
    Promise.resolve(promise)
      .catch((error: unknown) => this.runtime.options.logger.error("A waitUntil() promise rejected", { object: this.key.id, error }))
      .finally(() => {
        this.#waitUntil--;
        if (this.#waitUntil === 0) this.unpinned();
      });
  }

  // ---- output (the output gate owns commits; storage calls back through InstanceHooks) ----

  /** Commits pending writes now. */
  flush(): Promise<void> {
    return this.gate.flush();
  }

  holdOutput(end: SocketEnd, item: Message | PendingClose): boolean {
    return this.gate.hold(end, item);
  }

  /** SocketOwner: a send or close from code of an instance that was reset is dropped (it must not reach the next instance's clients). */
  refusesOutput(): boolean {
    return this.incarnations.deadCodeRunning;
  }

  /** A committed batch changed the persisted alarm. */
  alarmCommitted(time: number | null): void {
    this.alarms.committed(time);
  }

  /** OutputGateOwner: a failed batch changed the alarm (set, moved or cleared it): read it again after a backoff, running it if due. */
  alarmUncertain(): void {
    if (!this.alarms.armed) this.alarms.retryLater();
  }

  /**
   * Discards the instance and its uncommitted writes, closing the object's
   * sockets (clients must resync: messages they were sent may be lost).
   * Events of the discarded instance still running fail with `error`
   * (`ERR_STORAGE_COMMIT_FAILED` after a failed commit) or, without one,
   * `ERR_OBJECT_RESET` with `cause`; whatever its code sends later is dropped.
   */
  reset(code: number, reason: string, cause?: unknown): void {
    const incarnation = this.incarnations.current;
    // Its queued events fail below; nothing holds the sockets' reading back any more.
    this.#paused = resumeIfUnder(this.input, 0, this.#paused, true);
    const error =
      cause instanceof TorporError && cause.code === "ERR_STORAGE_COMMIT_FAILED"
        ? cause
        : objectResetError(`${this.key.namespace}/${this.key.name ?? this.key.id}`, reason, cause);
    this.#storage?.rollback();
    this.gate.discard(error);
    const heldCloses = this.gate.takeDroppedCloses();
    this.sockets.closeAll(code, reason);
    // A close() held behind the failed commit left its socket CLOSING with nothing sent.
    for (const end of heldCloses) end.transmit(new PendingClose(code, reason));
    if (this.instance !== null) this.#release();
    // Last: this often runs in the instance's own async context, and from here on its sends are dropped.
    if (incarnation !== null) this.incarnations.reset(incarnation, error);
  }

  // ---- sockets (routed by HostSockets) -------------------------------------

  socketMessage(end: SocketEnd, data: Message): void {
    this.sockets.message(end, data);
    this.#paused = pauseIfOver(this.input, this.runtime.options.limits.maxPendingEvents, end, this.#paused);
  }

  /** DispatchHost: an event ended; sockets paused by inbound backpressure resume once the object is down to half its bound. */
  eventFinished(): void {
    if (this.#paused !== null) this.#paused = resumeIfUnder(this.input, this.runtime.options.limits.maxPendingEvents, this.#paused);
  }

  socketClose(end: SocketEnd, code: number, reason: string, wasClean: boolean): void {
    this.sockets.close(end, code, reason, wasClean);
  }

  socketError(end: SocketEnd, error: unknown): void {
    this.sockets.error(end, error);
  }

  /** Runs the pending alarm now if there is one; resolves with whether `alarm()` ran. */
  runAlarmNow(): Promise<boolean> {
    return this.alarms.runNow();
  }

  // ---- shutdown ---------------------------------------------------------------

  /** Graceful stop: refuse new calls, let running events finish, commit, then close every socket with `code` (clients reconnect elsewhere). */
  async shutdown(code: number, reason: string): Promise<void> {
    this.#closing = true;
    // Not resumed: the sockets close here, or move to another process whose reading the caller controls.
    this.#paused = null;
    await this.drained();
    if (this.gate.holding) this.gate.commitQuietly();
    await this.gate.settled();
    this.#idle?.cancel();
    this.#idle = null;
    this.alarms.cancel();
    this.sockets.closeOpen(code, reason);
    // The instance goes: so do the connections its code opened or accepted (nothing of it runs on).
    this.incarnations.current?.dropConnections();
    this.#stopped = true;
    const storage = this.#storage;
    this.#storage = null;
    this.instance = null;
    this.#ctx = null;
    storage?.close();
  }

  /** Moves the object out (cluster reload; its sockets stopped reading): events finish, storage commits, `ws.accept()` sockets close with 1012, the instance and timers go. Returns its open hibernatable sockets, taken out of it. */
  async moveOut(): Promise<SocketEnd[]> {
    this.#closing = true;
    await this.drained();
    const moving = this.sockets.takeForMove();
    await this.shutdown(1012, "Server restarting");
    return moving;
  }

  /** `moveOut` with the reading stopped first, then each open hibernatable socket handed over (record, TCP socket, unparsed bytes) for `adoptSocket` in the new owner. */
  async exportSockets(): Promise<ExportedSockets> {
    this.sockets.pauseReading();
    const moving = await this.moveOut();
    return { autoResponse: this.autoResponse, ...(await this.sockets.handOver(moving)) };
  }

  /** A socket moved in from another process (`exportSockets` there), served here with `unparsed` read first. */
  adoptSocket(record: MovedSocket, socket: Socket, unparsed: Buffer): void {
    this.sockets.adopt(record, socket, unparsed);
  }

  /** Drops the hibernatable sockets without a handshake, as a torn-down isolate: clients see 1006; no handler runs. */
  dropSockets(): void {
    this.sockets.drop();
  }

  /** Closes every socket from the runtime's side, detached first: no handler runs, nothing wakes (testing's eviction). */
  closeAllSockets(code: number, reason: string): void {
    this.sockets.closeDetached(code, reason);
  }

  get ctx(): DurableObjectState | null {
    return this.#ctx;
  }
}
