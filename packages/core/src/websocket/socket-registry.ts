import type { SocketEnd } from "./socket-end.ts";

/**
 * An object's hibernatable sockets and their tags: the one source of truth
 * for `getWebSockets(tag)`, kept by the host so it survives hibernation.
 */
export class SocketRegistry {
  readonly #all = new Set<SocketEnd>();
  /** Built only when some socket has tags. */
  #byTag: Map<string, Set<SocketEnd>> | null = null;

  get size(): number {
    return this.#all.size;
  }

  add(end: SocketEnd): void {
    this.#all.add(end);
    if (end.tags === null) return;
    const index = (this.#byTag ??= new Map());
    for (const tag of end.tags) {
      let set = index.get(tag);
      if (set === undefined) index.set(tag, (set = new Set()));
      set.add(end);
    }
  }

  delete(end: SocketEnd): boolean {
    if (!this.#all.delete(end)) return false;
    if (end.tags !== null && this.#byTag !== null) {
      for (const tag of end.tags) {
        const set = this.#byTag.get(tag);
        if (set === undefined) continue;
        set.delete(end);
        if (set.size === 0) this.#byTag.delete(tag);
      }
    }
    return true;
  }

  /** Sockets in acceptance order, all of them or those carrying `tag`. */
  list(tag?: string): SocketEnd[] {
    if (tag === undefined) return [...this.#all];
    const set = this.#byTag?.get(tag);
    return set === undefined ? [] : [...set];
  }

  /** How many sockets carry each tag (for the admin dashboard). */
  tagCounts(): Record<string, number> {
    const counts: Record<string, number> = {};
    if (this.#byTag !== null) for (const [tag, set] of this.#byTag) counts[tag] = set.size;
    return counts;
  }

  [Symbol.iterator](): IterableIterator<SocketEnd> {
    return this.#all.values();
  }
}
