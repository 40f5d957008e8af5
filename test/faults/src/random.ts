/**
 * A seeded pseudo-random generator, so that a fault schedule is named by its
 * seed and can be run again. The generator is sfc32 (small, fast, passes
 * PractRand); the seed is a 32-bit integer printed at the start of every run.
 * Timing still varies between runs (processes, the kernel's scheduler), so a
 * seed reproduces the schedule's choices, not every interleaving.
 */

/** A seeded source of choices. */
export class Random {
  readonly seed: number;
  #a: number;
  #b: number;
  #c: number;
  #d: number;

  constructor(seed: number) {
    this.seed = seed >>> 0;
    this.#a = 0x9e3779b9;
    this.#b = 0x243f6a88;
    this.#c = 0xb7e15162;
    this.#d = this.seed;
    // Mixes the seed in before the first value is used.
    for (let i = 0; i < 15; i++) this.next();
  }

  /** A fresh seed from the system's generator (for a run that picks its own). */
  static freshSeed(): number {
    return crypto.getRandomValues(new Uint32Array(1))[0]!;
  }

  /** A float in [0, 1). */
  next(): number {
    const t = (((this.#a + this.#b) | 0) + this.#d) | 0;
    this.#d = (this.#d + 1) | 0;
    this.#a = this.#b ^ (this.#b >>> 9);
    this.#b = (this.#c + (this.#c << 3)) | 0;
    this.#c = (this.#c << 21) | (this.#c >>> 11);
    this.#c = (this.#c + t) | 0;
    return (t >>> 0) / 4294967296;
  }

  /** An integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  /** One element, uniformly. */
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error("pick() from an empty list");
    return items[Math.floor(this.next() * items.length)]!;
  }

  /** A copy of `items` in a random order (Fisher–Yates). */
  shuffle<T>(items: readonly T[]): T[] {
    const out = [...items];
    for (let i = out.length - 1; i > 0; i--) {
      const j = this.int(0, i);
      [out[i], out[j]] = [out[j]!, out[i]!];
    }
    return out;
  }

  /** One element, with probability proportional to its weight. */
  weighted<T>(items: ReadonlyArray<{ weight: number; value: T }>): T {
    const total = items.reduce((n, i) => n + i.weight, 0);
    let at = this.next() * total;
    for (const item of items) {
      at -= item.weight;
      if (at < 0) return item.value;
    }
    return items.at(-1)!.value;
  }

  /** An independent generator derived from this one (each client and the nemesis get their own, so adding one does not shift the others). */
  fork(): Random {
    return new Random(this.int(0, 0xffffffff));
  }
}
