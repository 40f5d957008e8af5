import { workerdError } from "../errors.ts";
import type {
  DurableObjectGetOptions,
  DurableObjectListOptions,
  DurableObjectPutOptions,
  DurableObjectSetAlarmOptions,
  DurableObjectStorage,
} from "./storage.ts";

type State = "open" | "rolledBack" | "committed";
let control: { rolledBack(txn: StorageTransaction): boolean; finish(txn: StorageTransaction): void };

/**
 * The `txn` handed to `storage.transaction(closure)` (Cloudflare's
 * `DurableObjectTransaction`): the storage methods, scoped to the
 * transaction, plus `rollback()`. As on workerd, a rolled-back transaction
 * refuses further calls, and so does one used after its closure returned.
 */
export class StorageTransaction {
  #state: State = "open";
  readonly #storage: DurableObjectStorage;

  static {
    control = {
      rolledBack: (txn) => txn.#state === "rolledBack",
      finish: (txn) => {
        if (txn.#state === "open") txn.#state = "committed";
      },
    };
  }

  /** @internal made by `storage.transaction()`. */
  constructor(storage: DurableObjectStorage) {
    this.#storage = storage;
  }

  get(keyOrKeys: string | string[], options?: DurableObjectGetOptions): Promise<unknown> {
    return this.#open("get()", () => this.#storage.get(keyOrKeys as string, options));
  }

  put(keyOrEntries: string | Record<string, unknown>, value?: unknown, options?: DurableObjectPutOptions): Promise<void> {
    return this.#open("put()", () => (this.#storage.put as (...args: unknown[]) => Promise<void>)(keyOrEntries, value, options));
  }

  delete(keyOrKeys: string | string[], options?: DurableObjectPutOptions): Promise<boolean | number> {
    return this.#open("delete()", () => this.#storage.delete(keyOrKeys as string, options));
  }

  list(options?: DurableObjectListOptions): Promise<Map<string, unknown>> {
    return this.#open("list()", () => this.#storage.list(options));
  }

  getAlarm(options?: DurableObjectGetOptions): Promise<number | null> {
    return this.#open("getAlarm()", () => this.#storage.getAlarm(options));
  }

  setAlarm(scheduledTime: number | Date, options?: DurableObjectSetAlarmOptions): Promise<void> {
    return this.#open("setAlarm()", () => this.#storage.setAlarm(scheduledTime, options));
  }

  deleteAlarm(options?: DurableObjectSetAlarmOptions): Promise<void> {
    return this.#open("deleteAlarm()", () => this.#storage.deleteAlarm(options));
  }

  /** Discards the transaction's writes when the closure returns. */
  rollback(): void {
    if (this.#state === "rolledBack") return;
    this.#check("rollback()");
    this.#state = "rolledBack";
  }

  /** Throws, as on workerd: a transaction cannot delete everything. */
  deleteAll(): never {
    throw workerdError(Error, "ERR_STORAGE_DELETE_ALL_IN_TRANSACTION", "Cannot call deleteAll() within a transaction");
  }

  #check(op: string): void {
    if (this.#state === "rolledBack") throw workerdError(Error, "ERR_STORAGE_TRANSACTION_ROLLED_BACK", `Cannot ${op} on rolled back transaction`);
    if (this.#state === "committed") {
      throw workerdError(
        Error,
        "ERR_STORAGE_TRANSACTION_ROLLED_BACK",
        `Cannot call ${op} on transaction that has already committed: did you move \`txn\` outside of the closure?`,
      );
    }
  }

  #open<T>(op: string, run: () => Promise<T>): Promise<T> {
    try {
      this.#check(op);
      return run();
    } catch (error) {
      return Promise.reject(error);
    }
  }
}

/** Whether `txn.rollback()` was called. */
export function isRolledBack(txn: StorageTransaction): boolean {
  return control.rolledBack(txn);
}

/** Marks the transaction finished: later calls throw. */
export function finishTransaction(txn: StorageTransaction): void {
  control.finish(txn);
}
