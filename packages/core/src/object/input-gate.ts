import type { HostEvent } from "./host-event.ts";

/** What the input gate needs from its object. */
export interface InputGateOwner {
  /** Constructs the instance if it is hibernated; false if that failed (and the queue was failed with it). */
  ready(): boolean;
  /** Runs one event; the gate has already counted it as running. */
  run(event: HostEvent): void;
  /** Nothing is running or queued any more (the idle timer may start). */
  idle(): void;
  /** A blockConcurrencyWhile() callback threw or rejected (before the gate opens again). */
  blockFailed(error: unknown): void;
}

/**
 * The input gate of one object (Cloudflare's model): events start in arrival
 * order, and none starts while `blockConcurrencyWhile` or a storage
 * operation holds the gate. A handler awaiting other I/O (a timer, a fetch)
 * lets the next event in; one awaiting only storage does not, because
 * storage resolves within the same turn and a queued event is only started
 * at a turn boundary or when every running event has finished.
 */
/** Shared by every idle gate: a hibernated object with sockets keeps its gates, so they start with no arrays of their own. */
const NONE: never[] = Object.freeze([]) as never[];

export class InputGate {
  #queue: HostEvent[] = NONE;
  #holds = 0;
  #running = 0;
  #pumpScheduled = false;
  #pumping = false;
  #drainWaiters: Array<() => void> = NONE;

  constructor(private readonly owner: InputGateOwner) {}

  get running(): number {
    return this.#running;
  }

  get queued(): number {
    return this.#queue.length;
  }

  get holds(): number {
    return this.#holds;
  }

  /** Nothing running, queued or held: an event may start synchronously (the fast path). */
  get free(): boolean {
    return this.#running === 0 && this.#holds === 0 && this.#queue.length === 0;
  }

  /** Starts `event` now, counted as running (the caller checked `free` and that an instance exists). */
  startNow(event: HostEvent): void {
    this.#running++;
    this.owner.run(event);
  }

  /** Counts an event the caller starts itself, as `startNow` would (a message run without an event record). */
  enter(): void {
    this.#running++;
  }

  /** Queues `event`; it starts when the gate allows. */
  enqueue(event: HostEvent): void {
    if (this.#queue === NONE) this.#queue = [];
    this.#queue.push(event);
  }

  /** Starts queued events now if nothing runs, else at the next turn. */
  kick(): void {
    if (this.#running === 0) this.#pump();
    else this.#schedulePump();
  }

  /** Removes and returns every queued event (the constructor threw: they fail). */
  takeQueued(): HostEvent[] {
    const queued = this.#queue;
    this.#queue = NONE;
    return queued === NONE ? [] : queued;
  }

  /** A running event finished (or was abandoned by its timeout). */
  finished(abandoned = false): void {
    this.#running--;
    if (this.#running > 0) {
      if (abandoned) this.#schedulePump();
      return;
    }
    // The last running event finished: the next queued one may start now,
    // without waiting for the turn boundary (frames that arrived together).
    if (this.#queue.length === 0) this.#settled();
    else if (abandoned) this.#schedulePump();
    else if (this.#holds === 0) this.#pump();
  }

  /** `blockConcurrencyWhile`: no other event starts until `fn` settles. */
  blockConcurrencyWhile<T>(fn: () => T | Promise<T>): Promise<T> {
    this.#holds++;
    let result: Promise<T>;
    try {
      result = Promise.resolve(fn());
    } catch (error) {
      result = Promise.reject(error);
    }
    const settled = result.then(
      (value) => {
        this.#releaseHold();
        return value;
      },
      (error: unknown) => {
        this.owner.blockFailed(error);
        this.#releaseHold();
        throw error;
      },
    );
    // Constructors often call it without awaiting: the reset reports the failure, not an unhandled rejection.
    settled.catch(() => {});
    return settled;
  }

  /** Holds the gate while `promise` is pending (a storage operation). */
  hold<T>(promise: Promise<T>): Promise<T> {
    this.#holds++;
    return promise.finally(() => this.#releaseHold());
  }

  #releaseHold(): void {
    this.#holds--;
    if (this.#holds > 0) return;
    if (this.#queue.length > 0) this.#schedulePump();
    else if (this.#running === 0) this.#settled();
  }

  /** Resolves once no event is running, queued or holding the gate. */
  drained(): Promise<void> {
    if (this.free) return Promise.resolve();
    if (this.#drainWaiters === NONE) this.#drainWaiters = [];
    return new Promise((resolve) => this.#drainWaiters.push(resolve));
  }

  #settled(): void {
    const waiters = this.#drainWaiters;
    if (waiters.length > 0 && this.#holds === 0) {
      this.#drainWaiters = NONE;
      for (const w of waiters) w();
    }
    this.owner.idle();
  }

  #schedulePump(): void {
    if (this.#pumpScheduled) return;
    this.#pumpScheduled = true;
    setImmediate(InputGate.#pumpFromTurn, this);
  }

  // Static, with the gate as argument: no closure per object.
  static #pumpFromTurn(gate: InputGate): void {
    gate.#pumpScheduled = false;
    gate.#pump();
  }

  /**
   * Starts queued events. We are at a turn boundary (all microtasks of
   * earlier handlers ran), so one event may start even while others await
   * I/O; after an event that is still running, the next waits for the next
   * turn, so a handler's storage continuations always run before it.
   */
  #pump(): void {
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      this.#pumpQueue();
    } finally {
      this.#pumping = false;
    }
  }

  #pumpQueue(): void {
    while (this.#queue.length > 0 && this.#holds === 0) {
      if (!this.owner.ready()) return;
      if (this.#holds > 0) return;
      const before = this.#running;
      this.#running++;
      const next = this.#queue.shift()!;
      if (this.#queue.length === 0) this.#queue = NONE;
      this.owner.run(next);
      if (this.#running > before) {
        if (this.#queue.length > 0) this.#schedulePump();
        return;
      }
    }
  }
}
