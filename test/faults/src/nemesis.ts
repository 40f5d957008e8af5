/**
 * The nemesis: injects faults into a system at random times, chosen by a
 * seeded generator, one at a time (each fault runs to its end, recovery
 * included, before the next one starts), and records each in the history.
 * Faults are plain objects over any system type `S`, so the same loop drives
 * one machine's cluster (torpor-faults.ts) or several nodes with network
 * faults.
 */
import type { History } from "./history.ts";
import type { Random } from "./random.ts";

/** What a fault gets to work with. */
export interface FaultContext {
  rng: Random;
  history: History;
  /** Record what happened (merged into the fault's record). */
  detail: Record<string, unknown>;
}

/** One kind of fault. */
export interface Fault<S> {
  name: string;
  /** Relative probability of being picked. */
  weight: number;
  /** Injects the fault and waits until the system had its chance to recover. Throwing ends the run (a fault that cannot be injected is a harness bug). */
  run(system: S, context: FaultContext): Promise<void>;
}

/** When faults happen. */
export interface NemesisOptions {
  rng: Random;
  history: History;
  /** Quiet time between two faults, ms (a random value in the range). */
  gapMs: [number, number];
  /**
   * The first faults are every kind once, in a seeded random order, so that even a short run (CI) injects each
   * of them; later ones are picked by weight. Default true.
   */
  coverEach?: boolean;
}

/** Runs faults until stopped. */
export class Nemesis<S> {
  readonly #system: S;
  readonly #faults: ReadonlyArray<Fault<S>>;
  readonly #options: NemesisOptions;
  #running = false;
  #loop: Promise<void> | null = null;
  #wake: (() => void) | null = null;
  /** Faults still to run once (the covering round), in order. */
  readonly #round: Array<Fault<S>>;
  #covered = () => {};
  /** Resolves once every kind of fault has run to its end at least once (at once when `coverEach` is false). */
  readonly covered: Promise<void>;

  constructor(system: S, faults: ReadonlyArray<Fault<S>>, options: NemesisOptions) {
    this.#system = system;
    this.#faults = faults;
    this.#options = options;
    this.#round = options.coverEach === false ? [] : options.rng.fork().shuffle(faults);
    this.covered = new Promise((resolve) => (this.#covered = resolve));
    if (this.#round.length === 0) this.#covered();
  }

  start(): void {
    this.#running = true;
    this.#loop = this.#run();
  }

  /** Stops after the fault in progress (if any) is over. Rejects if a fault could not be injected. */
  async stop(): Promise<void> {
    this.#running = false;
    this.#wake?.();
    await this.#loop;
  }

  async #run(): Promise<void> {
    const { rng, history, gapMs } = this.#options;
    while (this.#running) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, rng.int(gapMs[0], gapMs[1]));
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      if (!this.#running) return;
      const fault = this.#round.shift() ?? rng.weighted(this.#faults.map((f) => ({ weight: f.weight, value: f })));
      const detail: Record<string, unknown> = {};
      const end = history.fault(fault.name);
      try {
        await fault.run(this.#system, { rng: rng.fork(), history, detail });
      } finally {
        end(detail);
      }
      if (this.#round.length === 0) this.#covered();
    }
  }
}
