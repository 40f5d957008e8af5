import type { Clock } from "../clock.ts";
import { TorporError } from "../errors.ts";
import type { ObjectKey, StorageHooks } from "../storage/storage-provider.ts";
import type { AlarmScheduler } from "./alarm-scheduler.ts";
import type { InputGate } from "./input-gate.ts";
import type { OutputGate } from "./output-gate.ts";

/** The parts of an object's host its storage calls back into. */
export interface HookedHost {
  readonly gate: OutputGate;
  readonly input: InputGate;
  readonly alarms: AlarmScheduler;
  readonly runtime: { readonly options: { readonly clock: Clock } };
}

/**
 * What an instance's storage calls back (the provider contract's
 * `StorageHooks`): the first write of a batch closes the output gate, which
 * owns commits; a storage operation holds the input gate; the runtime's
 * clock and the running alarm serve `setAlarm()` and `getAlarm()`. Made
 * each time the storage is opened.
 */
export class InstanceHooks implements StorageHooks {
  constructor(readonly host: HookedHost) {}

  writeStarted(): void {
    this.host.gate.writeStarted();
  }

  alarmChanged(): void {
    this.host.gate.alarmChanged();
  }

  flush(): Promise<void> {
    return this.host.gate.flush();
  }

  holdInput<T>(promise: Promise<T>): Promise<T> {
    return this.host.input.hold(promise);
  }

  /** The alarm whose alarm() is running (getAlarm() reports it as null). */
  runningAlarm(): number | null {
    return this.host.alarms.running;
  }

  /** The runtime's clock (a past alarm time is scheduled for now). */
  now(): number {
    return this.host.runtime.options.clock.now();
  }
}

/** The error queued events fail with when an object's storage cannot be opened (disk full, no fds, a corrupt file). */
export function storageOpenError(key: ObjectKey, cause: unknown): TorporError {
  const message = cause instanceof Error ? cause.message : String(cause);
  return new TorporError("ERR_STORAGE_OPEN", `The storage of Durable Object ${key.namespace}/${key.name ?? key.id} could not be opened: ${message}`, { cause });
}
