/**
 * Moving every object of a worker out (reload), reported slot by slot, with
 * core's socket verbs: each object's sockets stop reading at the kernel first
 * (`pauseReading`), so whatever clients send from then on waits there; the
 * object finishes its events and commits (`moveOut`); then each open
 * hibernatable socket is detached (`detach`) and goes to the supervisor with
 * its record (`toMoved`: tags, attachment, auto-response time) and the bytes
 * read but not parsed. Once every object of a slot has left, the slot is reported
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
import { type ObjectHost, slotOf } from "@torpor/core/cluster";
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
  for (const host of hosts) for (const end of host.sockets) end.pauseReading();
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
    if (end.conn === null) continue;
    // detach waits for what was written to leave this process; a client that does not read past the deadline loses its connection instead.
    let late = false;
    const timer = setTimeout(
      () => {
        late = true;
        end.terminate();
      },
      Math.max(0, deadline - Date.now()),
    );
    const detached = await end.detach(1012, "Server restarting");
    clearTimeout(timer);
    if (late || detached === null) {
      detached?.socket.destroy();
      counts.closed++;
      continue;
    }
    counts.sockets++;
    send({ t: "socket", moved: { ...end.toMoved(host.key), unparsed: detached.unparsed } }, detached.socket);
  }
  waiting.delete(host);
}
