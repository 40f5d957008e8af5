import type { TimerHandle } from "../clock.ts";
import type { ObjectOptions } from "../options.ts";

/** What the idle timer needs from its object's host. */
export interface IdleHost {
  readonly runtime: { readonly options: Pick<ObjectOptions, "clock" | "hibernateAfterMs"> };
  readonly instance: unknown;
  readonly input: { readonly running: number; readonly queued: number };
  /** The live instance's async context: its open connections pin it and tell nobody when they close. */
  readonly incarnation: { readonly openConnections: number } | null;
  /** Drops the instance unless something pins it (a pinned object is re-checked when the pin goes). */
  hibernate(): unknown;
}

/**
 * When a live instance with nothing to do hibernates: `hibernateAfterMs`
 * after its last activity. Made per live instance (it goes with it), so a
 * hibernated host holds no timer state.
 */
export class IdleTimer {
  #timer: TimerHandle | null = null;
  #lastActive = 0;

  constructor(private readonly host: IdleHost) {}

  /** Nothing runs or waits: the countdown restarts from now (one timer, re-armed for the rest when it fires early). */
  arm(): void {
    const { clock, hibernateAfterMs } = this.host.runtime.options;
    this.#lastActive = clock.now();
    if (this.#timer === null) this.#timer = clock.setTimeout(() => this.#check(), hibernateAfterMs);
  }

  cancel(): void {
    this.#timer?.cancel();
    this.#timer = null;
  }

  #check(): void {
    this.#timer = null;
    const host = this.host;
    if (host.instance === null || host.input.running > 0 || host.input.queued > 0) return;
    const { clock, hibernateAfterMs } = host.runtime.options;
    const idleFor = clock.now() - this.#lastActive;
    if (idleFor < hibernateAfterMs) {
      this.#timer = clock.setTimeout(() => this.#check(), hibernateAfterMs - idleFor);
      return;
    }
    // Pinned objects are re-checked when the pin goes (socket closed, waitUntil settled).
    host.hibernate();
    // Except by connections its code opened or accepted (incarnation.ts), which report no close: look again a period later.
    if (host.instance !== null && (host.incarnation?.openConnections ?? 0) > 0) this.#timer = clock.setTimeout(() => this.#check(), hibernateAfterMs);
  }
}
