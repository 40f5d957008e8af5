import type { Socket } from "node:net";
import { AlarmScheduler } from "./alarm-scheduler.ts";
import type { TimerHandle } from "../clock.ts";
import { TorporError } from "../errors.ts";
import { runAs } from "./fault-isolation.ts";
import { currentIncarnation, Incarnation, objectResetError, type IncarnationHost } from "./incarnation.ts";
import { cancelTimer } from "./object-timers.ts";
import { endsSocket, type Handler, type HostEvent } from "./host-event.ts";
import type { DurableObjectId } from "../ids/id.ts";
import { InputGate } from "./input-gate.ts";
import type { Logger } from "../logger.ts";
import type { Metrics, ObjectCounters } from "../metrics.ts";
import type { ObjectOptions } from "../options.ts";
import { OutputGate } from "./output-gate.ts";
import type { HostControl, ObjectLifecycle } from "./host-control.ts";
import type { MovedSocket } from "../websocket/moved-socket.ts";
import { CLOSED, HIBERNATABLE, OPEN, PendingClose, SocketEnd, STANDARD, type Message, type SocketOwner } from "../websocket/socket-end.ts";
import { SocketRegistry } from "../websocket/socket-registry.ts";
import { DurableObjectState, type StateHost } from "./state.ts";
import type { ObjectKey, ObjectStorage, StorageHooks, StorageProvider } from "../storage/storage-provider.ts";
import type { WebSocketRequestResponsePair } from "../websocket/auto-response.ts";
import { facadeOf, type WebSocket } from "../websocket/web-socket.ts";

/** What a host needs from its runtime. */
export interface HostRuntime {
  readonly options: ObjectOptions;
  readonly provider: StorageProvider;
  readonly env: Record<string, unknown>;
  /** `ctx.exports`: loopback bindings of the Worker's own exports. */
  readonly exports: Record<string, unknown>;
  readonly metrics: Metrics;
  /** The instance was constructed or handled an event (LRU bookkeeping). */
  touched(host: ObjectHost): void;
  /** The instance was dropped. */
  released(host: ObjectHost): void;
  /** Serves a socket moved in from another process with `end`; `unparsed` is read first (the runtime's server binds it). */
  resumeSocket(socket: Socket, unparsed: Buffer, end: SocketEnd): void;
}

/** One hibernatable socket leaving with its object: the record, its TCP socket, and the bytes read but not parsed. */
export interface ExportedSocket {
  record: MovedSocket;
  socket: Socket;
  unparsed: Buffer;
}

/** What `exportSockets()` hands over. */
export interface ExportedSockets {
  /** The object's auto-response pair (it lives in the host, so it moves too). */
  autoResponse: WebSocketRequestResponsePair | null;
  sockets: ExportedSocket[];
  /** Open sockets that could not move and were closed with 1012. */
  closed: number;
}

/** A Durable Object class as the runtime sees it. */
export type DurableObjectClass = new (ctx: DurableObjectState, env: never) => object;

export type { ObjectLifecycle } from "./host-control.ts";

/**
 * Keeps one object alive across hibernation. The host is cheap and outlives
 * its instance: it holds the socket registry, the auto-response pair, the
 * event queue, the alarm scheduler and the counters; the instance (and its
 * storage handle) is created on the first event and dropped when idle.
 * When events start is its `InputGate`'s call; commits and held output
 * belong to its `OutputGate`, alarm timers and retries to its
 * `AlarmScheduler`.
 */
/** Most objects never accept a socket the standard way: they share this empty set (never added to). */
const NO_SOCKETS: ReadonlySet<SocketEnd> = new Set();

export class ObjectHost implements SocketOwner, StorageHooks, StateHost, IncarnationHost, HostControl {
  readonly sockets = new SocketRegistry();
  readonly counters: ObjectCounters = { constructed: 0, woken: 0, evicted: 0, events: 0, errors: 0 };
  /** The kind and time of the last event delivered to an instance (the admin dashboard shows it). */
  lastEventKind: HostEvent["kind"] | null = null;
  lastEventAt = 0;
  autoResponse: WebSocketRequestResponsePair | null = null;
  eventTimeoutMs: number | null;

  instance: Record<string, unknown> | null = null;
  #ctx: DurableObjectState | null = null;
  #storage: ObjectStorage | null = null;

  readonly #input: InputGate = new InputGate(this);
  #waitUntil = 0;
  /** Sockets accepted with `ws.accept()` that this object handed out: they pin it in memory. */
  #standard = NO_SOCKETS as Set<SocketEnd>;

  /** Holds sends and results until writes are durable; the only place a commit happens. */
  readonly gate: OutputGate = new OutputGate(this);
  readonly #alarms: AlarmScheduler = new AlarmScheduler(this);
  /** The async context of the live instance's code: exceptions escaping it are attributed here. */
  #incarnation: Incarnation | null = null;
  /** How many instances were discarded (reset, or dropped when hibernating): while 0, no code of a dead incarnation can be running. */
  #resets = 0;

  /** Sockets not being read because this object has too many events pending (see #backpressure). */
  #paused: SocketEnd[] | null = null;
  #idleTimer: TimerHandle | null = null;
  /** The provider's prepare() for the next construction is pending. */
  #preparing = false;
  #lastActive = 0;
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

  get socketCount(): number {
    return this.sockets.size;
  }

  /**
   * Hibernated with nothing to keep: no sockets, no alarm, nothing queued. The runtime then holds
   * the host only weakly, so an object visited once costs no memory once it hibernates.
   */
  get disposable(): boolean {
    return this.instance === null && this.sockets.size === 0 && this.#standard.size === 0 && !this.#alarms.armed && this.#input.queued === 0;
  }

  /** Why the instance cannot be dropped now; empty when it can. */
  blockers(): string[] {
    const out: string[] = [];
    // A half-open socket (allowHalfOpen) reaches CLOSED when the object answers the peer's Close, with no event for it.
    for (const end of this.#standard) if (end.state === CLOSED) this.#dropStandard(end);
    const input = this.#input;
    if (input.running > 0) out.push(`${input.running} event(s) in flight`);
    if (input.queued > 0) out.push(`${input.queued} event(s) queued`);
    if (input.holds > 0) out.push("blockConcurrencyWhile() or a storage transaction is pending");
    if (this.#waitUntil > 0) out.push(`${this.#waitUntil} waitUntil() promise(s) pending`);
    if (this.#standard.size > 0) {
      out.push(`${this.#standard.size} WebSocket(s) accepted with ws.accept() (use ctx.acceptWebSocket() to allow hibernation)`);
    }
    if (this.gate.holding) out.push("storage writes not yet committed");
    const timers = this.#incarnation?.pendingTimers ?? 0;
    if (timers > 0) out.push(`${timers} timer(s) pending (setTimeout/setInterval; an object with pending timers does not hibernate, as on Cloudflare)`);
    return out;
  }

  // ---- event delivery -------------------------------------------------------

  /** Queues an event; constructs the instance first if it is hibernated. */
  deliver(event: HostEvent): void {
    if (this.#stopped) {
      // After shutdown only stragglers arrive (close events of the sockets we closed).
      event.reject?.(new TorporError("ERR_RUNTIME_CLOSED", "The runtime has shut down."));
      event.resolve?.(false);
      return;
    }
    if (this.#closing && event.kind === "call") {
      event.reject!(new TorporError("ERR_RUNTIME_CLOSED", "The runtime is shutting down; no new requests are accepted."));
      return;
    }
    const input = this.#input;
    if (this.instance !== null && input.free) {
      input.startNow(event);
      return;
    }
    input.enqueue(event);
    if (this.instance === null && !this.#construct()) return;
    input.kick();
  }

  /** Runs `call` inside the object through the gate; the result waits for the output gate. */
  call<T>(call: (instance: Record<string, unknown>) => T | Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.deliver({ kind: "call", call, resolve: resolve as (v: unknown) => void, reject });
    });
  }

  /** InputGateOwner: an instance exists (constructed now if hibernated). */
  ready(): boolean {
    return this.instance !== null || this.#construct();
  }

  /** InputGateOwner: runs one event the input gate started. */
  run(event: HostEvent): void {
    this.#start(event);
  }

  #start(event: HostEvent): void {
    const instance = this.instance!;
    const incarnation = this.#incarnation!;
    event.incarnation = incarnation;
    this.counters.events++;
    this.lastEventKind = event.kind;
    this.lastEventAt = this.runtime.options.clock.now();
    this.runtime.touched(this);
    let result: unknown;
    try {
      result = runAs(incarnation, ObjectHost.#invokeOn, this, instance, event);
    } catch (error) {
      this.#finish(event, undefined, error);
      return;
    }
    if (isThenable(result)) {
      if (this.eventTimeoutMs !== null && event.kind.startsWith("webSocket")) this.#armEventTimeout(event);
      result.then(
        (value) => this.#finish(event, value, undefined, false),
        (error: unknown) => this.#finish(event, undefined, error, true),
      );
    } else {
      this.#finish(event, result, undefined, false);
    }
  }

  // Static, with the host as argument: no closure per object (hosts of hibernated objects stay in memory).
  static #invokeOn(host: ObjectHost, instance: Record<string, unknown>, event: HostEvent): unknown {
    return host.#invoke(instance, event);
  }

  #invoke(instance: Record<string, unknown>, event: HostEvent): unknown {
    const metrics = this.runtime.metrics.events;
    switch (event.kind) {
      case "webSocketMessage":
      case "webSocketClose":
      case "webSocketError": {
        metrics[event.kind]++;
        const handler = instance[event.kind] as Handler | undefined;
        if (typeof handler !== "function") {
          if (event.kind === "webSocketMessage") {
            this.runtime.options.logger.warn("A hibernatable WebSocket received a message but the class has no webSocketMessage() handler", {
              object: this.key.id,
            });
          }
          return undefined;
        }
        return handler.call(instance, facadeOf(event.end!), ...event.args!);
      }
      case "listener": {
        const ws = facadeOf(event.end!);
        ws.dispatch(event.args![0] as Parameters<WebSocket["dispatch"]>[0]);
        return undefined;
      }
      case "call":
        return event.call!(instance);
      case "alarm":
        metrics.alarm++;
        return this.#alarms.run(instance, event);
    }
  }

  #finish(event: HostEvent, value: unknown, error: unknown, failed = error !== undefined): void {
    if (event.timedOut === true) return;
    event.timer?.cancel();
    if (endsSocket(event)) this.#socketDone(event);
    // Reset while it ran: its writes may be gone with the failed batch, so it reports no success.
    const resetBy = event.incarnation?.resetBy ?? null;
    if (resetBy !== null) {
      if (event.kind === "call") event.reject!(resetBy);
      else if (event.kind === "alarm") this.#alarms.finished(event, true, resetBy);
      this.#input.finished();
      return;
    }
    if (event.kind === "call") {
      if (failed) event.reject!(error);
      else if (this.gate.holding) this.gate.afterCommit().then(() => event.resolve!(value), event.reject!);
      else event.resolve!(value);
    } else if (event.kind === "alarm") {
      this.#alarms.finished(event, failed, error);
    } else if (failed) {
      this.reportHandlerError(event, error);
    }
    this.#input.finished();
    if (this.#paused !== null) this.#resumeReading();
  }

  /** The last event of a hibernatable socket ran: it leaves the registry, and a Close the handler left unanswered is answered. */
  #socketDone(event: HostEvent): void {
    const end = event.end!;
    this.sockets.delete(end);
    if (event.kind === "webSocketClose") end.closeHandled(event.args![0] as number, event.args![1] as string, event.args![2] as boolean);
  }

  /** Logs and counts an error a handler threw. */
  reportHandlerError(event: HostEvent, error: unknown): void {
    this.counters.errors++;
    this.runtime.metrics.handlerErrors++;
    this.runtime.options.logger.error(`Uncaught error in ${event.kind === "listener" ? "a WebSocket event listener" : `${event.kind}()`}`, {
      // The storage name of a namespace is its binding's name.
      binding: this.key.namespace,
      object: this.key.id,
      name: this.key.name,
      event: event.kind,
      error,
    });
  }

  #armEventTimeout(event: HostEvent): void {
    const ms = this.eventTimeoutMs!;
    event.timer = this.runtime.options.clock.setTimeout(() => {
      if (event.timedOut === true) return;
      event.timedOut = true;
      // Abandoned, but the socket is closed all the same: it leaves getWebSockets() as if the handler had returned.
      if (endsSocket(event)) this.#socketDone(event);
      this.reportHandlerError(
        event,
        new TorporError("ERR_EVENT_TIMEOUT", `${event.kind}() ran longer than the hibernatable WebSocket event timeout of ${ms} ms and was abandoned.`),
      );
      this.#input.finished(true);
      if (this.#paused !== null) this.#resumeReading();
    }, ms);
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
          if (this.instance === null && this.#input.queued > 0 && this.#construct()) this.#input.kick();
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
      storage = runtime.provider.open(this.key, this);
    } catch (cause) {
      this.#openFailed(cause);
      return false;
    }
    const ctx = new DurableObjectState(this, storage.api);
    this.#storage = storage;
    this.#ctx = ctx;
    const wasConstructed = this.counters.constructed > 0;
    this.counters.constructed++;
    runtime.metrics.constructions++;
    if (wasConstructed) {
      this.counters.woken++;
      runtime.metrics.wakes++;
    }
    const incarnation = new Incarnation(this);
    this.#incarnation = incarnation;
    try {
      this.instance = runAs(incarnation, () => new this.cls(ctx, runtime.env as never) as Record<string, unknown>);
    } catch (error) {
      this.#incarnation = null;
      this.#storage = null;
      this.#ctx = null;
      storage.close();
      this.counters.errors++;
      runtime.metrics.handlerErrors++;
      runtime.options.logger.error("Durable Object constructor threw", { object: this.key.id, name: this.key.name, error });
      this.#failQueued(error);
      return false;
    }
    runtime.touched(this);
    if (!this.#alarms.armed) {
      let time: number | null = null;
      try {
        time = storage.alarmTime();
      } catch {
        // A provider that opens its file lazily fails here on an unreadable file. The event that
        // woke the object meets the same error (an alarm event is retried with backoff from there).
      }
      this.#alarms.schedule(time);
    }
    return true;
  }

  /**
   * The storage could not be opened (disk full, out of file descriptors, a
   * corrupt file): every queued event fails now with ERR_STORAGE_OPEN and is
   * not run later; sockets waiting on it are closed with 1011.
   */
  #openFailed(cause: unknown): void {
    const message = cause instanceof Error ? cause.message : String(cause);
    const error = new TorporError(
      "ERR_STORAGE_OPEN",
      `The storage of Durable Object ${this.key.namespace}/${this.key.name ?? this.key.id} could not be opened: ${message}`,
      { cause },
    );
    this.counters.errors++;
    this.runtime.metrics.handlerErrors++;
    this.runtime.options.logger.error("Durable Object storage could not be opened", { object: this.key.id, name: this.key.name, error });
    this.#failQueued(error, "Durable Object storage could not be opened");
  }

  /** Fails every queued event with `error` (the instance could not be made); with `closeReason`, their sockets are closed with 1011. */
  #failQueued(error: unknown, closeReason?: string): void {
    for (const event of this.#input.takeQueued()) {
      if (event.kind === "alarm" && event.reject === undefined) {
        this.#alarms.retryLater();
        continue;
      }
      event.reject?.(error);
      if (endsSocket(event)) this.#socketDone(event);
      else if (closeReason !== undefined && event.end !== undefined && event.end.state === OPEN) event.end.close(1011, closeReason);
    }
  }

  /** IncarnationHost: a promise of the object's code rejected with no handler (logged; the object goes on, as on Cloudflare). */
  incarnationRejection(_incarnation: Incarnation, reason: unknown): void {
    this.counters.errors++;
    this.runtime.metrics.handlerErrors++;
    this.runtime.options.logger.error("Unhandled promise rejection (the server keeps running)", {
      object: this.key.id,
      name: this.key.name,
      error: reason,
    });
  }

  /** IncarnationHost: an exception escaped the code of `incarnation` (a timer, a listener, a microtask): reset the object if that instance is still the live one. */
  incarnationFault(incarnation: Incarnation, error: unknown): void {
    this.counters.errors++;
    this.runtime.metrics.handlerErrors++;
    const live = incarnation === this.#incarnation && this.instance !== null;
    this.runtime.options.logger.error(
      live
        ? "Uncaught exception in Durable Object code; resetting the object"
        : "Uncaught exception in code of a Durable Object instance that was already dropped",
      { object: this.key.id, name: this.key.name, error },
    );
    if (live) this.reset(1011, "Durable Object reset after an uncaught exception", error);
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
    if (this.#incarnation !== null) this.#retire(this.#incarnation);
    this.#release();
    this.counters.evicted++;
    this.runtime.metrics.evictions++;
    return [];
  }

  /** Resolves once no event is running or queued. */
  drained(): Promise<void> {
    return this.#input.drained();
  }

  #release(): void {
    this.#idleTimer?.cancel();
    this.#idleTimer = null;
    const storage = this.#storage;
    this.instance = null;
    this.#incarnation = null;
    this.#ctx = null;
    this.#storage = null;
    // The handlers' WebSocket objects die with the instance; the connections live on.
    for (const end of this.sockets) end.facade = null;
    storage?.close();
    this.runtime.released(this);
  }

  /**
   * The instance hibernates (idle, evicted or asked to): as when Cloudflare
   * evicts an isolate, nothing of it runs on. Its timers are cancelled (only
   * `unref()`ed ones can be left: pending ones pin it), and code of it that
   * still runs later (such a timer's callback, a promise no event awaited)
   * counts as code of a reset instance: its sends are dropped and its
   * subrequests reject without leaving.
   */
  #retire(incarnation: Incarnation): void {
    for (const timer of incarnation.takeTimers()) cancelTimer(timer);
    this.#resets++;
    incarnation.reset(
      new TorporError(
        "ERR_OBJECT_RESET",
        `Durable Object ${this.key.namespace}/${this.key.name ?? this.key.id} hibernated: code its dropped instance left running (an unref()ed timer, a promise no event awaited) cannot send or make subrequests.`,
      ),
    );
  }

  /** InputGateOwner: a blockConcurrencyWhile() callback threw. As Cloudflare documents, the object is reset. */
  blockFailed(error: unknown): void {
    this.counters.errors++;
    this.runtime.metrics.handlerErrors++;
    this.runtime.options.logger.error("A blockConcurrencyWhile() callback threw; resetting the object", { object: this.key.id, name: this.key.name, error });
    this.#failQueued(error);
    this.reset(1011, "Durable Object reset: blockConcurrencyWhile() callback threw", error);
  }

  /** InputGateOwner: nothing runs or waits; start the idle timer. */
  idle(): void {
    if (this.instance === null || this.#closing) return;
    const { clock, hibernateAfterMs } = this.runtime.options;
    this.#lastActive = clock.now();
    // A closure per arming (live objects only), not a field that outlives the instance.
    if (this.#idleTimer === null) this.#idleTimer = clock.setTimeout(() => this.#idleCheck(), hibernateAfterMs);
  }

  #idleCheck(): void {
    this.#idleTimer = null;
    if (this.instance === null || this.#input.running > 0 || this.#input.queued > 0) return;
    const { clock, hibernateAfterMs } = this.runtime.options;
    const idleFor = clock.now() - this.#lastActive;
    if (idleFor < hibernateAfterMs) {
      this.#idleTimer = clock.setTimeout(() => this.#idleCheck(), hibernateAfterMs - idleFor);
      return;
    }
    // Pinned objects are re-checked when the pin goes (socket closed, waitUntil settled).
    this.hibernate();
  }

  /** Re-arms the idle timer after a pin went away. */
  #unpinned(): void {
    if (this.#input.running === 0 && this.#input.queued === 0) this.idle();
  }

  // ---- gate holds -------------------------------------------------------------

  /** `blockConcurrencyWhile`: no other event starts until `fn` settles. */
  blockConcurrencyWhile<T>(fn: () => T | Promise<T>): Promise<T> {
    return this.#input.blockConcurrencyWhile(fn);
  }

  /** StorageHooks: the runtime's clock (a past alarm time is scheduled for now). */
  now(): number {
    return this.runtime.options.clock.now();
  }

  /** StorageHooks: the alarm whose alarm() is running (getAlarm() reports it as null). */
  runningAlarm(): number | null {
    return this.#alarms.running;
  }

  /** When this object's armed alarm timer fires, or null (the admin dashboard's "pending alarm"). */
  get alarmAt(): number | null {
    return this.#alarms.at;
  }

  holdInput<T>(promise: Promise<T>): Promise<T> {
    return this.#input.hold(promise);
  }

  waitUntil(promise: Promise<unknown>): void {
    this.#waitUntil++;
    Promise.resolve(promise)
      .catch((error: unknown) => this.runtime.options.logger.error("A waitUntil() promise rejected", { object: this.key.id, error }))
      .finally(() => {
        this.#waitUntil--;
        if (this.#waitUntil === 0) this.#unpinned();
      });
  }

  // ---- storage hooks (the output gate owns commits) -------------------------

  writeStarted(): void {
    this.gate.writeStarted();
  }

  alarmChanged(): void {
    this.gate.alarmChanged();
  }

  flush(): Promise<void> {
    return this.gate.flush();
  }

  holdOutput(end: SocketEnd, item: Message | PendingClose): boolean {
    return this.gate.hold(end, item);
  }

  /** SocketOwner: a send or close from code of an instance that was reset is dropped (it must not reach the next instance's clients). */
  refusesOutput(): boolean {
    return this.#resets > 0 && this.isDeadCode();
  }

  /** IncarnationHost: the instance's last pending timer is done; it may hibernate again once idle. */
  incarnationTimersDone(incarnation: Incarnation): void {
    if (incarnation === this.#incarnation) this.#unpinned();
  }

  /** IncarnationHost: what a subrequest of this object's code waits for (see subrequestGate). */
  outputBarrier(): Promise<void> | null {
    return this.gate.barrier(this.#storage?.inClosure === true);
  }

  /** True when the running code belongs to an instance of this object that was reset. */
  isDeadCode(): boolean {
    const running = currentIncarnation();
    return running !== undefined && running.host === this && running.resetBy !== null;
  }

  /** A committed batch changed the persisted alarm. */
  alarmCommitted(time: number | null): void {
    this.#alarms.committed(time);
  }

  /** OutputGateOwner: a failed batch changed the alarm (set, moved or cleared it): read it again after a backoff, running it if due. */
  alarmUncertain(): void {
    if (!this.#alarms.armed) this.#alarms.retryLater();
  }

  /**
   * Discards the instance and its uncommitted writes, closing the object's
   * sockets (clients must resync: messages they were sent may be lost).
   * Events of the discarded instance still running fail with `error`
   * (`ERR_STORAGE_COMMIT_FAILED` after a failed commit) or, without one,
   * `ERR_OBJECT_RESET` with `cause`; whatever its code sends later is dropped.
   */
  reset(code: number, reason: string, cause?: unknown): void {
    const incarnation = this.#incarnation;
    this.#resumeReading(true);
    const error =
      cause instanceof TorporError && cause.code === "ERR_STORAGE_COMMIT_FAILED"
        ? cause
        : objectResetError(`${this.key.namespace}/${this.key.name ?? this.key.id}`, reason, cause);
    this.#storage?.rollback();
    this.gate.discard(error);
    const heldCloses = this.gate.takeDroppedCloses();
    for (const end of [...this.sockets.list(), ...this.#standard]) end.close(code, reason);
    // A close() held behind the failed commit left its socket CLOSING with nothing sent.
    for (const end of heldCloses) end.transmit(new PendingClose(code, reason));
    if (this.instance !== null) this.#release();
    // Last: this often runs in the instance's own async context, and from here on its sends are dropped.
    if (incarnation !== null) {
      this.#resets++;
      incarnation.reset(error);
      // Its timers would only run code whose storage is closed and whose output is dropped.
      for (const timer of incarnation.takeTimers()) if (timer.hasRef()) cancelTimer(timer);
    }
  }

  // ---- sockets ----------------------------------------------------------------

  /** `ctx.acceptWebSocket`: registers an end as hibernatable. */
  acceptHibernatable(end: SocketEnd, tags: string[] | null): void {
    end.owner = this;
    end.tags = tags;
    end.markAccepted(HIBERNATABLE);
    this.sockets.add(end);
  }

  /** A standard-accepted socket returned by this object's fetch: its events go through the gate and it pins the object. */
  adoptStandard(end: SocketEnd): void {
    if (end.owner !== null || end.mode !== STANDARD) return;
    end.owner = this;
    if (this.#standard === NO_SOCKETS) this.#standard = new Set();
    this.#standard.add(end);
  }

  socketMessage(end: SocketEnd, data: Message): void {
    if (end.mode === HIBERNATABLE) {
      const pair = this.autoResponse;
      if (pair !== null && data === pair.request) {
        // Answered here so the object is never woken for a heartbeat.
        end.autoResponseAt = this.runtime.options.clock.now();
        this.runtime.metrics.autoResponses++;
        end.transmit(pair.response);
        return;
      }
      this.deliver({ kind: "webSocketMessage", end, args: [data] });
    } else {
      this.deliver({ kind: "listener", end, args: [{ type: "message", data }] });
    }
    this.#backpressure(end);
  }

  /**
   * Inbound backpressure. A client that sends faster than its object handles
   * would otherwise grow the object's event queue without limit; past
   * `limits.maxPendingEvents` queued or running, the socket that brought the
   * event stops being read (ws's pause(): TCP flow control then holds the
   * sender back), until the object is down to half of it. Frames already read
   * from the socket are still delivered (at most one read, 64 KiB), in order.
   */
  #backpressure(end: SocketEnd): void {
    const input = this.#input;
    if (input.queued + input.running <= this.runtime.options.limits.maxPendingEvents) return;
    const conn = end.conn;
    if (conn === null || conn.isPaused) return;
    conn.pause();
    (this.#paused ??= []).push(end);
  }

  /** Resumes the paused sockets once the object is down to half its bound (or at once with `all`). */
  #resumeReading(all = false): void {
    const paused = this.#paused;
    if (paused === null) return;
    const input = this.#input;
    if (!all && input.queued + input.running > this.runtime.options.limits.maxPendingEvents / 2) return;
    this.#paused = null;
    for (const end of paused) end.conn?.resume();
  }

  socketClose(end: SocketEnd, code: number, reason: string, wasClean: boolean): void {
    if (end.mode === HIBERNATABLE) {
      // As on workerd, the closing socket stays in getWebSockets() until its webSocketClose() has run.
      this.deliver({ kind: "webSocketClose", end, args: [code, reason, wasClean] });
    } else {
      this.deliver({ kind: "listener", end, args: [{ type: "close", code, reason, wasClean }] });
      if (end.state === CLOSED) {
        this.#dropStandard(end);
        if (this.#standard.size === 0) this.#unpinned();
      }
    }
  }

  #dropStandard(end: SocketEnd): void {
    this.#standard.delete(end);
    end.owner = null;
  }

  socketError(end: SocketEnd, error: unknown): void {
    if (end.mode === HIBERNATABLE) this.deliver({ kind: "webSocketError", end, args: [error] });
    else this.deliver({ kind: "listener", end, args: [{ type: "error", error, message: error instanceof Error ? error.message : String(error) }] });
  }

  // ---- alarms -----------------------------------------------------------------

  /** Schedules (or cancels, with null) the alarm timer. Called at start-up from the alarm index. */
  scheduleAlarm(time: number | null): void {
    this.#alarms.schedule(time);
  }

  /** Runs the pending alarm now if there is one; resolves with whether `alarm()` ran. */
  runAlarmNow(): Promise<boolean> {
    return this.#alarms.runNow();
  }

  // ---- shutdown ---------------------------------------------------------------

  /**
   * Graceful stop: refuse new calls, let running events finish, commit,
   * then close every socket with `code` so clients reconnect elsewhere.
   */
  async shutdown(code: number, reason: string): Promise<void> {
    this.#closing = true;
    // Not resumed: the sockets close here, or move to another process whose reading the caller controls.
    this.#paused = null;
    await this.drained();
    if (this.gate.holding) this.gate.commitQuietly();
    await this.gate.settled();
    this.#idleTimer?.cancel();
    this.#alarms.cancel();
    for (const end of this.sockets.list()) {
      if (end.state === OPEN) end.close(code, reason);
    }
    this.#stopped = true;
    const storage = this.#storage;
    this.#storage = null;
    this.instance = null;
    this.#ctx = null;
    storage?.close();
  }

  /**
   * Moves the object out of this process (cluster reload; the caller stopped
   * its sockets reading): running events finish, storage commits, sockets
   * accepted with `ws.accept()` close with 1012, the instance and timers go.
   * Returns the open hibernatable sockets, detached from this host, for the
   * new owner.
   */
  async moveOut(): Promise<SocketEnd[]> {
    this.#closing = true;
    await this.drained();
    for (const end of [...this.#standard]) if (end.state === OPEN) end.close(1012, "Server restarting");
    const moving = this.sockets.list().filter((end) => end.state === OPEN);
    for (const end of moving) {
      this.sockets.delete(end);
      end.owner = null;
    }
    await this.shutdown(1012, "Server restarting");
    return moving;
  }

  /**
   * Moves the object out of this process (cluster reload). Its sockets stop
   * reading at once (what clients send meanwhile waits in the kernel);
   * running events finish, storage commits, sockets accepted with
   * `ws.accept()` close with 1012, and the instance and timers go
   * (`moveOut`). Each open hibernatable socket is then handed over as a
   * record with its TCP socket and the bytes read but not parsed, for
   * `adoptSocket` in the new owner; one that cannot move is closed with 1012.
   */
  async exportSockets(): Promise<ExportedSockets> {
    for (const end of this.sockets) end.pauseReading();
    const ends = await this.moveOut();
    const sockets: ExportedSocket[] = [];
    let closed = 0;
    for (const end of ends) {
      if (end.conn === null) continue;
      const detached = await end.detach(1012, "Server restarting");
      if (detached === null) closed++;
      else sockets.push({ record: end.toMoved(this.key), socket: detached.socket, unparsed: detached.unparsed });
    }
    return { autoResponse: this.autoResponse, sockets, closed };
  }

  /**
   * A socket moved in from another process (`exportSockets` there): accepted
   * as hibernatable with its tags, attachment and auto-response time, and
   * served here, `unparsed` read before anything the socket still holds.
   */
  adoptSocket(record: MovedSocket, socket: Socket, unparsed: Buffer): void {
    const end = SocketEnd.fromMoved(record);
    this.acceptHibernatable(end, record.tags);
    this.runtime.resumeSocket(socket, unparsed, end);
  }

  /**
   * Drops the hibernatable WebSockets without a closing handshake, as an
   * isolate torn down on Cloudflare does: clients see 1006, `wasClean`
   * false, and no handler of the object runs for it.
   */
  dropSockets(): void {
    for (const end of this.sockets.list()) {
      this.sockets.delete(end);
      end.drop();
    }
  }

  /**
   * Closes every socket of this object from the runtime's side, detached
   * first so no handler or listener runs (and nothing wakes) for this close:
   * the object is being torn down (testing's eviction with "close").
   */
  closeAllSockets(code: number, reason: string): void {
    for (const end of [...this.sockets.list(), ...this.#standard]) {
      this.sockets.delete(end);
      this.#standard.delete(end);
      end.owner = null;
      end.listener = null;
      end.close(code, reason);
    }
  }

  get ctx(): DurableObjectState | null {
    return this.#ctx;
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof value === "object" && value !== null && typeof (value as PromiseLike<unknown>).then === "function";
}
