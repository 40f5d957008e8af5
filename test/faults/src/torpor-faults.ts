/**
 * The faults of one machine's cluster (issue 20): SIGKILL of a worker;
 * SIGKILL of the supervisor followed by a restart as systemd would do it;
 * SIGHUP reloads; a reload whose new code crashes shortly after it said
 * ready; a WebSocket client that stops reading while a reload moves its
 * socket; a long event (a long poll) while a reload moves its object.
 */
import { WebSocket } from "ws";
import { DeadlineExceeded, httpCall } from "./http-call.ts";
import type { Fault, FaultContext } from "./nemesis.ts";
import { writeSubjectCode } from "./subject-worker.ts";
import type { TorporCluster } from "./torpor-cluster.ts";

/** Tunables of the cluster faults. */
export interface TorporFaultOptions {
  /** Object names of the workload (the stalled reader and the long event pick one of them). */
  objects: number;
  /** How long a reload may take before it counts as hung (default 45 s). */
  reloadDeadlineMs?: number;
  /** The longest long event and stall, ms (default 40 s). */
  longestStallMs?: number;
}

/** Every fault of one machine, with its weight. */
export function torporFaults(options: TorporFaultOptions): Array<Fault<TorporCluster>> {
  const reloadDeadlineMs = options.reloadDeadlineMs ?? 45_000;
  const longest = options.longestStallMs ?? 40_000;
  let version = 0;
  const reload = async (cluster: TorporCluster, context: FaultContext, key = "reload") => {
    const outcome = await cluster.reload(reloadDeadlineMs);
    context.detail[key] = outcome;
    if (outcome.stuck === true) context.history.observe("reload-hang", { deadlineMs: reloadDeadlineMs, supervisor: cluster.supervisor?.pid });
  };
  const newCode = (cluster: TorporCluster, crashAfterMs: number | null = null) => {
    version++;
    writeSubjectCode(cluster.options.dir, { version: `v${version}`, crashAfterMs });
    return `v${version}`;
  };

  return [
    {
      name: "kill-worker",
      weight: 3,
      async run(cluster, context) {
        const workers = cluster.workers();
        if (workers.length === 0) return;
        const victim = context.rng.pick(workers);
        context.detail.pid = victim.pid;
        cluster.kill(victim);
      },
    },
    {
      name: "kill-supervisor",
      weight: 1.5,
      async run(cluster, context) {
        context.detail.supervisor = cluster.supervisor?.pid;
        // Half the time a long poll is in flight: the old instance's worker has an event to finish when its supervisor dies.
        let call: Promise<void> | null = null;
        if (cluster.url !== null && context.rng.chance(0.5)) {
          const object = `o${context.rng.int(0, options.objects - 1)}`;
          const ms = context.rng.int(3_000, longest);
          Object.assign(context.detail, { object, ms });
          call = longCall(cluster, context, object, ms);
          await pause(300);
        }
        context.detail.workers = (await cluster.killSupervisor()).map((p) => p.pid);
        // systemd's Restart=always: start again at once; a failed start is retried, as systemd would.
        for (let attempt = 1; ; attempt++) {
          try {
            await cluster.start();
            context.detail.restarted = cluster.supervisor?.pid;
            await call;
            return;
          } catch (error) {
            context.history.note(`restart attempt ${attempt} failed: ${(error as Error).message}`);
            await cluster.stop(10_000);
            if (attempt === 3) throw error;
          }
        }
      },
    },
    {
      name: "reload",
      weight: 3,
      async run(cluster, context) {
        // A deploy: clients must not notice (no call fails, no WebSocket closes).
        context.detail.transparent = true;
        context.detail.version = newCode(cluster);
        await reload(cluster, context);
      },
    },
    {
      name: "reload-crashing-code",
      weight: 1,
      async run(cluster, context) {
        const crashAfterMs = context.rng.int(200, 2_000);
        context.detail.version = newCode(cluster, crashAfterMs);
        context.detail.crashAfterMs = crashAfterMs;
        await reload(cluster, context);
        // The operator notices and deploys a fix.
        await pause(context.rng.int(500, 3_000));
        context.detail.fixed = newCode(cluster);
        await reload(cluster, context, "fix");
      },
    },
    {
      name: "stalled-reader-during-reload",
      weight: 1.5,
      async run(cluster, context) {
        const url = cluster.url;
        if (url === null) return;
        const object = `o${context.rng.int(0, options.objects - 1)}`;
        const stallMs = context.rng.int(5_000, longest);
        Object.assign(context.detail, { object, stallMs });
        const ws = new WebSocket(`${url.replace(/^http/, "ws")}/ws/${object}?op=stall`);
        ws.on("error", () => {});
        const closed = new Promise<void>((resolve) => ws.once("close", () => resolve()));
        const opened = await Promise.race([
          new Promise<boolean>((resolve) => ws.once("open", () => resolve(true))),
          closed.then(() => false),
          pause(10_000).then(() => false),
        ]);
        if (!opened) {
          ws.terminate();
          return;
        }
        // Stops reading at the kernel: what the object sends piles up in the server's buffers.
        (ws as unknown as { _socket: { pause(): void } })._socket.pause();
        ws.send("flood:12582912");
        await pause(500);
        const reloading = reload(cluster, context);
        await Promise.race([pause(stallMs), closed]);
        (ws as unknown as { _socket: { resume(): void } })._socket.resume();
        ws.close();
        await reloading;
        ws.terminate();
      },
    },
    {
      name: "long-event-during-reload",
      weight: 1.5,
      async run(cluster, context) {
        const url = cluster.url;
        if (url === null) return;
        const object = `o${context.rng.int(0, options.objects - 1)}`;
        const ms = context.rng.int(5_000, longest);
        Object.assign(context.detail, { object, ms });
        const call = longCall(cluster, context, object, ms);
        await pause(500);
        await reload(cluster, context);
        await call;
      },
    },
  ];
}

/** A client's long call (a long poll), recorded in the history like any other operation; resolves when it completed. */
function longCall(cluster: TorporCluster, context: FaultContext, object: string, ms: number): Promise<void> {
  const url = cluster.url!;
  const op = context.history.invoke("nemesis", "sleep", object, ms, ms + 30_000);
  return httpCall(`${url}/sleep/${object}?op=${op.id}&arg=${ms}`, { deadlineMs: op.deadlineMs }).then(
    (reply) => {
      let value: unknown;
      try {
        const body = JSON.parse(reply.text) as { op: unknown; value: unknown; error?: { code?: string; message: string } };
        if (reply.status !== 200) return context.history.complete(op, "error", { error: { status: reply.status, message: body.error?.message ?? reply.text } });
        value = { op: body.op, value: body.value };
      } catch {
        return context.history.complete(op, "error", { error: { status: reply.status, message: reply.text.slice(0, 200) } });
      }
      context.history.complete(op, "ok", { value });
    },
    (error: unknown) => context.history.complete(op, error instanceof DeadlineExceeded ? "timeout" : "error", { error: { message: String(error) } }),
  );
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
