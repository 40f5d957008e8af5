/**
 * Watches the Worker's sources for `torpor dev`: the files of its import
 * graph (reported by the worker's module loader) and the config. Folders
 * are watched rather than files, so an editor that saves by writing a new
 * file and renaming it over the old one is still seen. Bursts of events
 * (one save often makes two or three) are folded into one call.
 */
import { watch, type FSWatcher } from "node:fs";
import { dirname } from "node:path";

/** How long the watcher waits after the last event of a burst before it reports. */
const SETTLE_MS = 80;

export class SourceWatcher {
  readonly #folders = new Map<string, FSWatcher>();
  readonly #files = new Set<string>();
  readonly #changed = new Set<string>();
  #timer: NodeJS.Timeout | null = null;
  #closed = false;

  constructor(readonly onChange: (files: string[]) => void) {}

  /** The files watched now. */
  get files(): ReadonlySet<string> {
    return this.#files;
  }

  /** Starts watching `file` (an absolute path). */
  add(file: string): void {
    if (this.#closed || this.#files.has(file)) return;
    this.#files.add(file);
    const folder = dirname(file);
    if (this.#folders.has(folder)) return;
    const watcher = watch(folder, (_event, name) => {
      if (name === null) return;
      const path = `${folder}/${typeof name === "string" ? name : String(name)}`;
      if (this.#files.has(path)) this.#touched(path);
    });
    watcher.on("error", () => {
      // The folder went away: nothing more to see there.
      watcher.close();
      this.#folders.delete(folder);
    });
    watcher.unref();
    this.#folders.set(folder, watcher);
  }

  #touched(path: string): void {
    this.#changed.add(path);
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = null;
      const files = [...this.#changed];
      this.#changed.clear();
      if (!this.#closed) this.onChange(files);
    }, SETTLE_MS);
  }

  close(): void {
    this.#closed = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    for (const watcher of this.#folders.values()) watcher.close();
    this.#folders.clear();
  }
}
