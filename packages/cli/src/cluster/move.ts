/**
 * Moving every object of a worker out (reload), reported slot by slot: each
 * object's sockets stop reading at the kernel first, so whatever clients send
 * from then on waits there; the object finishes its events and commits
 * (moveOut); then each open hibernatable socket goes to the supervisor with
 * its tags, attachment, auto-response time and the bytes read but not
 * parsed. Once every object of a slot has left, the slot is reported
 * released, so the supervisor gives it to the new worker without waiting for
 * the slowest object of this one.
 *
 * Sockets accepted with ws.accept() cannot move (their state lives in the
 * instance) and were closed with 1012 by moveOut. A socket whose client stops
 * reading cannot be handed over until what was written to it left this
 * process; past `socketDrainMs` it is dropped instead (the client sees the
 * connection end and reconnects) rather than holding its slot back.
 */
import type { Runtime } from "@torpor/core";
import { detachSocket, type ObjectHost, slotOf, stopReading, written } from "@torpor/core/cluster";
import type { FromWorker } from "./ipc.ts";

export interface MoveOptions {
  /** Told which objects still hold their slot back once `socketDrainMs` passed (the supervisor stops this process at its own deadline). */
  onSlow?(objects: Array<{ key: ObjectHost["key"]; waitingFor: string }>): void;
  /** The slots this process gives up (each is reported, with or without objects). */
  slots: ReadonlySet<number>;
  socketDrainMs: number;
  /** Runs for each host before it moves, while its instance may still run events (the worker abandons upgrades parked for it). */
  beforeMove(host: ObjectHost): void;
}

export async function moveOut(runtime: Runtime, send: (message: FromWorker, handle?: unknown) => void, options: MoveOptions): Promise<void> {
  const hosts = runtime.hosts();
  for (const host of hosts) for (const end of host.sockets) if (end.conn !== null) stopReading(end.conn);
  const bySlot = new Map<number, ObjectHost[]>();
  for (const host of hosts) {
    const slot = slotOf(host.key.id);
    bySlot.set(slot, [...(bySlot.get(slot) ?? []), host]);
  }
  // Slots with nothing in memory here are free at once (one message, also when it is empty: the supervisor waits for a word).
  send({ t: "released", slots: [...options.slots].filter((s) => !bySlot.has(s)), sockets: 0, closed: 0 });
  const deadline = Date.now() + options.socketDrainMs;
  const waiting = new Map<ObjectHost, string>();
  const slow = setTimeout(() => {
    if (waiting.size > 0) options.onSlow?.([...waiting].map(([host, phase]) => ({ key: host.key, waitingFor: phase })));
  }, options.socketDrainMs);
  slow.unref();
  await Promise.all(
    [...bySlot].map(async ([slot, group]) => {
      const counts = { sockets: 0, closed: 0 };
      await Promise.all(group.map((host) => moveHost(runtime, host, send, options, deadline, counts, waiting)));
      send({ t: "released", slots: [slot], ...counts });
    }),
  );
  clearTimeout(slow);
}

async function moveHost(
  runtime: Runtime,
  host: ObjectHost,
  send: (message: FromWorker, handle?: unknown) => void,
  options: MoveOptions,
  deadline: number,
  counts: { sockets: number; closed: number },
  waiting: Map<ObjectHost, string>,
): Promise<void> {
  options.beforeMove(host);
  waiting.set(host, `its events (${host.blockers().join("; ") || "none running"})`);
  const ends = await host.moveOut();
  waiting.set(host, "its sockets' output to drain");
  runtime.forget(host);
  const pair = host.autoResponse;
  if (pair !== null) send({ t: "auto-response", key: host.key, request: pair.request, response: pair.response });
  for (const end of ends) {
    const conn = end.conn;
    if (conn === null) continue;
    if (!(await drained(conn, deadline))) {
      conn.terminate();
      counts.closed++;
      continue;
    }
    const detached = detachSocket(conn);
    if (detached === null) {
      conn.close(1012, "Server restarting");
      counts.closed++;
      continue;
    }
    end.conn = null;
    // Nothing here serves this connection any more: the server forgets it (heartbeat, shutdown).
    conn.emit("close", 1012, Buffer.alloc(0));
    counts.sockets++;
    send(
      {
        t: "socket",
        moved: {
          key: host.key,
          tags: end.tags,
          attachment: end.attachment,
          autoResponseAt: end.autoResponseAt,
          protocol: end.protocol,
          unparsed: detached.unparsed,
        },
      },
      detached.socket,
    );
  }
  waiting.delete(host);
}

/** True once everything written to `conn` left this process; false if that did not happen by `deadline`. */
async function drained(conn: Parameters<typeof written>[0], deadline: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), Math.max(0, deadline - Date.now()));
  });
  try {
    return await Promise.race([written(conn).then(() => true as const), late]);
  } finally {
    clearTimeout(timer);
  }
}
