/**
 * The moving part of a reload: each new worker takes its index (new
 * connections go to it at once), and the old one is asked to release its
 * objects. The old worker reports slot by slot as each slot's objects have
 * left (their sockets sent ahead), and each slot goes to the new worker the
 * moment it is released, with the calls that waited for it. So a long event
 * or a client that stops reading holds back only its own slot, never the
 * other objects of its worker, and for at most `moveTimeoutMs`: then the old
 * process is stopped (what still ran there ends as in a crash) and its slots
 * go to the new worker. An old worker that released everything drains its
 * in-flight HTTP requests (their routed replies still reach it: they are
 * addressed to it, not to its index) and exits.
 */
import { TorporError } from "@torpor/core/errors";
import type { Supervisor } from "./supervisor.ts";
import type { WorkerProcess } from "./worker-process.ts";

/** Installs `fresh` (one ready process per index) and moves every object to them; resolves once every slot has moved. */
export async function moveObjects(
  supervisor: Supervisor,
  fresh: readonly WorkerProcess[],
): Promise<{ socketsMoved: number; socketsClosed: number; batched: boolean }> {
  const { timeouts, logger } = supervisor;
  let socketsMoved = 0;
  let socketsClosed = 0;
  let batched = true;
  const moves: Array<Promise<void>> = [];
  for (const proc of fresh) {
    const old = supervisor.serving[proc.index] ?? null;
    // From now on the index is the new process's: a restart planned for the old one is dropped, and free slots (a dead old one's) go to it.
    supervisor.serve(proc);
    if (old === null || !old.alive) continue;
    old.state = "draining";
    const slots = supervisor.owners.ownedBy(old);
    supervisor.owners.unassign(slots);
    old.owned.clear();
    for (const s of slots) supervisor.moving.add(s);
    let done = () => {};
    const finished = new Promise<void>((resolve) => (done = resolve));
    old.move = { successor: proc, releasing: new Set(slots), sockets: 0, closed: 0, done };
    // Both ends with a descriptor channel: the sockets go in batches (fd-channel.ts), else one per IPC message.
    const inBatches = supervisor.batchedMove(old, proc);
    batched &&= inBatches;
    old.send({ t: "release", socketDrainMs: Math.floor(timeouts.moveTimeoutMs / 2), ...(inBatches ? { batched: true } : {}) });
    const timer = supervisor.clock.setTimeout(() => {
      const left = old.move?.releasing.size ?? 0;
      if (left === 0 || !old.alive) return;
      logger.error("Objects did not move out in time; stopping the old worker (what still ran there ends as in a crash)", {
        worker: old.index,
        pid: old.pid,
        slotsLeft: left,
        error: new TorporError(
          "ERR_MOVE_TIMEOUT",
          `Worker ${old.index} (pid ${old.pid}) did not release ${left} slot(s) within ${timeouts.moveTimeoutMs} ms (a long event, or a client not reading).`,
        ),
      });
      old.kill();
    }, timeouts.moveTimeoutMs);
    moves.push(
      finished.then(() => {
        timer.cancel();
        socketsMoved += old.move?.sockets ?? 0;
        socketsClosed += old.move?.closed ?? 0;
        void supervisor.retire(old);
      }),
    );
  }
  await Promise.all(moves);
  // The move is over once the new workers hold every socket sent them (they adopt what the supervisor may still be passing on).
  await Promise.all(fresh.map((proc) => supervisor.movedIn(proc)));
  // batched: every old worker's sockets went in batches (false when one moved over IPC, or nothing moved).
  return { socketsMoved, socketsClosed, batched: batched && moves.length > 0 };
}
