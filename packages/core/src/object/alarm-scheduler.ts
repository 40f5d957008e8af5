import type { TimerHandle } from "../clock.ts";
import type { AlarmEvent, Handler, HostEvent } from "./host-event.ts";
import type { Metrics } from "../metrics.ts";
import type { ObjectOptions } from "../options.ts";
import type { OutputGate } from "./output-gate.ts";
import type { ObjectStorage } from "../storage/storage-provider.ts";

/** What the alarm scheduler needs from its object. */
export interface AlarmOwner {
  readonly options: ObjectOptions;
  readonly metrics: Metrics;
  /** For log lines. */
  readonly objectId: string;
  /** The live instance's storage, or null while hibernated. */
  readonly storage: ObjectStorage | null;
  /** Commits the alarm's clearing. */
  readonly gate: OutputGate;
  /** Queues an event through the object's input gate (waking it if needed). */
  deliver(event: HostEvent): void;
  reportHandlerError(event: HostEvent, error: unknown): void;
}

/**
 * One object's alarm timer: fires `alarm()` at the persisted time, retries a
 * failed run with exponential backoff (Cloudflare: up to 6 retries, the
 * first after 2 s), and clears the alarm after a run that succeeded.
 */
export class AlarmScheduler {
  #timer: TimerHandle | null = null;
  /** When the armed timer fires (the alarm's time, or a retry's), or null while none is armed. */
  #at: number | null = null;
  #retryCount = 0;
  /** Consecutive times the alarm could not run or be cleared because storage failed (backoff, not the alarm's retries). */
  #storageFailures = 0;
  /** The scheduled time of the alarm whose alarm() is running, or null. */
  #running: number | null = null;

  /**
   * The alarm being run, which `getAlarm()` reports as null (as on workerd:
   * a running alarm is no longer pending, so code that reschedules only
   * when no alarm is set works).
   */
  get running(): number | null {
    return this.#running;
  }

  constructor(private readonly owner: AlarmOwner) {}

  /** When the armed timer fires (the alarm's time, or a retry's), or null while none is armed. */
  get at(): number | null {
    return this.#timer === null ? null : this.#at;
  }

  /** True while a timer is set (the next run, or a retry). */
  get armed(): boolean {
    return this.#timer !== null;
  }

  /** Schedules (or, with null, cancels) the timer for `time`; `delay` makes it a retry that is due whatever the stored time. */
  schedule(time: number | null, delay?: number): void {
    this.cancel();
    if (time === null) return;
    const clock = this.owner.options.clock;
    this.#at = delay === undefined ? time : clock.now() + delay;
    this.#timer = clock.setTimeout(
      () => {
        this.#timer = null;
        // A retry is due by definition, even when the stored time is in the future (a forced run).
        this.owner.deliver({ kind: "alarm", forced: delay !== undefined });
      },
      delay ?? Math.max(0, time - clock.now()),
    );
  }

  cancel(): void {
    this.#timer?.cancel();
    this.#timer = null;
  }

  /** A batch that changed the persisted alarm is durable: a new alarm starts with no retries. */
  committed(time: number | null): void {
    this.#retryCount = 0;
    this.schedule(time);
  }

  /** Runs the pending alarm now if there is one; resolves with whether `alarm()` ran. */
  runNow(): Promise<boolean> {
    return new Promise<boolean>((resolve, reject) => {
      this.owner.deliver({ kind: "alarm", forced: true, resolve, reject });
    });
  }

  /** Runs `alarm()` for an "alarm" event; records the scheduled time in `event.scheduledTime` when it ran. */
  run(instance: Record<string, unknown>, event: AlarmEvent): unknown {
    const storage = this.owner.storage!;
    const time = storage.alarmTime();
    const forced = event.forced;
    if (time === null || (!forced && time > this.owner.options.clock.now())) {
      // A stale timer (the alarm moved or was deleted): schedule the real one.
      // finished() resolves a forced run with false: nothing ran.
      if (time !== null) this.schedule(time);
      return undefined;
    }
    this.cancel();
    event.scheduledTime = time;
    const handler = instance.alarm as Handler | undefined;
    if (typeof handler !== "function") {
      this.owner.options.logger.warn("An alarm fired but the class has no alarm() handler; the alarm is deleted", { object: this.owner.objectId });
      return undefined;
    }
    this.owner.metrics.alarmRuns++;
    this.#running = time;
    return handler.call(instance, new AlarmInvocationInfo(time, this.#retryCount));
  }

  /** After an "alarm" event: clear the alarm, or schedule a retry with backoff. */
  finished(event: AlarmEvent, failed: boolean, error: unknown): void {
    const time = event.scheduledTime;
    const ran = time !== undefined;
    this.#running = null;
    if (ran) {
      if (!failed) {
        this.#retryCount = 0;
        this.#clear(time);
      } else {
        this.owner.reportHandlerError(event, error);
        const { maxRetries } = this.owner.options.alarmRetry;
        if (this.#retryCount < maxRetries) {
          this.#retryCount++;
          this.owner.metrics.alarmRetries++;
          this.schedule(time, this.#backoff(this.#retryCount));
        } else {
          this.owner.options.logger.error(`alarm() failed ${maxRetries + 1} times; giving up on this alarm`, { object: this.owner.objectId });
          this.#retryCount = 0;
          this.#clear(time);
        }
      }
      // Read afresh: a failed clear reset the object and closed its storage.
      const storage = this.owner.storage;
      if (storage !== null && this.#timer === null && this.#retryCount === 0) this.schedule(storage.alarmTime());
    } else if (failed) {
      // alarm() never ran: reading the alarm failed (its storage could not be opened).
      this.owner.reportHandlerError(event, error);
      if (event.reject !== undefined) {
        event.reject(error);
        return;
      }
      this.retryLater();
    }
    event.resolve?.(ran);
  }

  /**
   * Clears the alarm after its run. If that commit fails, the output gate
   * has logged it and reset the object; the alarm is still stored, so it
   * runs again (alarms are at-least-once) after a backoff, never in a loop.
   */
  #clear(time: number): void {
    try {
      this.owner.gate.clearAlarm(time);
      this.#storageFailures = 0;
    } catch {
      // The failed commit reset the object, which usually re-armed the timer already (alarmUncertain).
      if (this.#timer !== null) return;
      this.#storageFailures++;
      this.owner.metrics.alarmRetries++;
      this.schedule(time, this.#backoff(this.#storageFailures));
    }
  }

  /** The alarm could not run because the object's storage did not open: try again after a backoff. */
  retryLater(): void {
    this.#storageFailures++;
    this.owner.metrics.alarmRetries++;
    this.cancel();
    const clock = this.owner.options.clock;
    // Not forced: the run re-reads the stored time once storage opens.
    this.#timer = clock.setTimeout(() => {
      this.#timer = null;
      this.owner.deliver({ kind: "alarm", forced: false });
    }, this.#backoff(this.#storageFailures));
  }

  /** The delay before attempt `n` (1-based): doubling from the initial backoff, capped, with jitter. */
  #backoff(n: number): number {
    const { maxRetries, initialBackoffMs, jitter } = this.owner.options.alarmRetry;
    const base = initialBackoffMs * 2 ** Math.min(n - 1, Math.max(maxRetries, 6));
    return Math.round(base * (1 + jitter * Math.random()));
  }
}

/** What `alarm(info)` receives (workerd's `AlarmInvocationInfo`). */
export class AlarmInvocationInfo {
  /** When the alarm was scheduled to run, in ms since the epoch. */
  readonly scheduledTime: number;
  /** How many times this alarm was retried after a failed run (0 on the first run). */
  readonly retryCount: number;
  /** Whether this run is a retry. */
  readonly isRetry: boolean;

  constructor(scheduledTime: number, retryCount: number) {
    this.scheduledTime = scheduledTime;
    this.retryCount = retryCount;
    this.isRetry = retryCount > 0;
  }
}
