/**
 * The supervisor's side of the direct channels between workers
 * (worker-channels.ts): when a process is ready, it gets a connected stream
 * socket to every other live process, and each of those the other end, each
 * named by the peer's serial. The supervisor makes each pair (a connection to
 * a Unix socket it listens on only meanwhile, in a directory only this user
 * can enter), sends the two ends over IPC and keeps nothing: the workers then
 * talk without it.
 *
 * The pair's ends never read in this process (the accepted end is paused at
 * the kernel, the connecting end paused before it connects), so nothing a
 * worker writes early is consumed here. A process that exits before it took
 * its end has it closed by the supervisor (closeUndeliveredHandles), so the
 * other end sees the channel close.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { connect, createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Logger } from "@torpor/core";
import type { WorkerProcess } from "./worker-process.ts";

export class ChannelBroker {
  readonly #members = new Set<WorkerProcess>();
  #queue: Promise<void> = Promise.resolve();
  #dir: string | null = null;
  #closed = false;

  constructor(readonly logger: Logger) {}

  /** `proc` is ready: it gets a channel to every live member (then becomes one). Pairs are made one process at a time. */
  join(proc: WorkerProcess): void {
    this.#queue = this.#queue
      .then(() => this.#connect(proc))
      .catch((error: unknown) =>
        this.logger.warn("Could not set up direct channels for a worker; its calls go through the supervisor", { worker: proc.index, error }),
      );
  }

  /** `proc` exited. */
  leave(proc: WorkerProcess): void {
    this.#members.delete(proc);
  }

  /** No more pairs; removes the directory. */
  close(): void {
    this.#closed = true;
    if (this.#dir !== null) rmSync(this.#dir, { recursive: true, force: true });
    this.#dir = null;
  }

  async #connect(proc: WorkerProcess): Promise<void> {
    if (this.#closed || !proc.alive) return;
    const others = [...this.#members].filter((p) => p.alive && p.child.connected);
    this.#members.add(proc);
    if (others.length === 0) return;
    this.#dir ??= mkdtempSync(join(tmpdir(), "torpor-channels-"));
    const path = join(this.#dir, `p${proc.serial}`);
    const server = createServer({ pauseOnConnect: true });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(path, () => {
        server.off("error", reject);
        resolve();
      });
    });
    try {
      for (const other of others) {
        if (!proc.alive || this.#closed) break;
        if (!other.alive) continue;
        const [mine, theirs] = await pair(server, path);
        proc.send({ t: "channel", peer: other.serial }, mine);
        other.send({ t: "channel", peer: proc.serial }, theirs);
      }
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  }
}

/** Two connected ends: one connection to `server`, made and accepted (one at a time: nothing else can reach the path). */
async function pair(server: Server, path: string): Promise<[Socket, Socket]> {
  const accepted = new Promise<Socket>((resolve) => server.once("connection", resolve));
  const client = connect(path);
  // Paused before it connects: this process never reads what the other end writes.
  client.pause();
  client.on("error", () => {});
  await new Promise<void>((resolve, reject) => {
    client.once("connect", resolve);
    client.once("error", reject);
  });
  const other = await accepted;
  other.on("error", () => {});
  return [client, other];
}
