/**
 * The node's lease deadline as its supervisor last wrote it, in a file its
 * workers read before they judge their own deadline passed. The deadline also
 * travels in `table` messages, but on the IPC channel every message waits
 * behind the sockets passed before it (Node sends one passed handle at a time
 * and queues the rest until the worker acknowledged it): a thousand
 * connections arriving at once at a busy worker held the new deadline past
 * the old one, and the worker fenced itself while the lease was renewed on
 * time. A file read is synchronous, so the worker gets the supervisor's latest
 * deadline at the instant it decides, whatever waits on the channel or however
 * long its own event loop was busy.
 *
 * The file holds `<token> <deadline>`: the token is the supervisor process's
 * own, so a worker never takes the deadline of another supervisor of the same
 * data directory (a later start, whose lease is not its own).
 */
import { randomUUID } from "node:crypto";
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import type { Logger } from "@torpor/core";

/** Where a worker finds its supervisor's deadline (passed in the worker's init). */
export interface DeadlineSource {
  path: string;
  token: string;
}

/** The supervisor's side: writes each new deadline (temp file + rename: never read half-written). */
export class DeadlineFile {
  readonly source: DeadlineSource;
  readonly #logger: Logger;
  #last = Number.NEGATIVE_INFINITY;
  #failed = false;

  constructor(path: string, logger: Logger) {
    this.source = { path, token: randomUUID() };
    this.#logger = logger;
    // Replaces whatever an earlier supervisor left: nothing may leave before this node joins.
    this.write(0);
  }

  /** Writes `deadline` (monotonic ms) if it is later than the last one written. */
  write(deadline: number): void {
    if (deadline <= this.#last) return;
    try {
      writeFileSync(`${this.source.path}.tmp`, `${this.source.token} ${deadline}\n`);
      renameSync(`${this.source.path}.tmp`, this.source.path);
      this.#last = deadline;
      this.#failed = false;
    } catch (error) {
      // The workers still get the deadline over IPC; only a busy channel can then fence them early.
      if (!this.#failed) this.#logger.warn("Writing the lease deadline for the workers failed", { path: this.source.path, error });
      this.#failed = true;
    }
  }
}

/** The worker's side: the deadline the supervisor last wrote, or null (no file, another supervisor's, unreadable). */
export function readDeadline(source: DeadlineSource): number | null {
  let text: string;
  try {
    text = readFileSync(source.path, "utf8");
  } catch {
    return null;
  }
  const [token, value] = text.trim().split(" ");
  if (token !== source.token || value === undefined) return null;
  const deadline = Number(value);
  return Number.isFinite(deadline) ? deadline : null;
}
