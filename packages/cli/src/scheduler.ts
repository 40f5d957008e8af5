import { setTimeout as sleep } from "node:timers/promises";

/** Workers' `scheduler` global (https://developers.cloudflare.com/workers/runtime-apis/scheduler/). */
export interface WorkerScheduler {
  /** Resolves after `delay` ms; rejects with the signal's reason if it aborts first. A timer, so it lets other events into the object meanwhile. */
  wait(delay: number, options?: { signal?: AbortSignal }): Promise<void>;
}

/** The `scheduler` Worker code finds globally, on Node's timers. */
export const scheduler: WorkerScheduler = {
  async wait(delay, options) {
    await sleep(delay, undefined, options?.signal === undefined ? undefined : { signal: options.signal });
  },
};
