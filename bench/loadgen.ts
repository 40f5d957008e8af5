// Load generator: a separate process (Node + ws) so client cost is the same for both sides.
// Driven over IPC by the figure scripts; holds groups of sockets by name.
import { Agent, request } from "node:http";
import type { WebSocket as Ws } from "ws";
import { loadWs } from "./lib/deps.ts";
import { serve } from "./lib/proc.ts";
import { Hist } from "./lib/stats.ts";

const { WebSocket } = await loadWs();
const groups = new Map<string, Ws[]>();
const localAddress = process.env.BENCH_LOCAL_ADDRESS || undefined;
const PAD = "x".repeat(48);

/** Opens with up to 3 attempts: a server may reset a handshake in a burst of thousands (workerd does). */
async function open(url: string): Promise<Ws> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await openOnce(url);
    } catch (error) {
      if (attempt >= 3) throw new Error(`${url}: ${(error as Error).message} (after ${attempt} attempts)`);
      await new Promise((r) => setTimeout(r, 50 * attempt));
    }
  }
}

function openOnce(url: string): Promise<Ws> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false, ...(localAddress ? { localAddress } : {}) });
    ws.once("open", () => {
      ws.off("error", reject);
      ws.on("error", () => {});
      resolve(ws);
    });
    ws.once("error", reject);
  });
}

/** Opens `paths` on `base` (at most 200 handshakes in flight) and adds them to `group`. */
async function connect({ group, base, paths }: { group: string; base: string; paths: string[] }): Promise<number> {
  const list = groups.get(group) ?? [];
  groups.set(group, list);
  const offset = list.length;
  let next = 0;
  // Sockets keep the order of `paths` (rooms are consecutive runs), whatever order handshakes finish in.
  const worker = async () => {
    while (next < paths.length) {
      const i = next++;
      list[offset + i] = await open(base + paths[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(200, paths.length) }, worker));
  return list.length;
}

async function close({ group }: { group: string }): Promise<void> {
  const list = groups.get(group) ?? [];
  groups.delete(group);
  await Promise.all(
    list.map(
      (ws) =>
        new Promise<void>((resolve) => {
          if (ws.readyState === WebSocket.CLOSED) return resolve();
          ws.once("close", () => resolve());
          ws.terminate();
        }),
    ),
  );
}

/** Closed loop: every socket sends, waits for its echo, sends again, `messages` times. */
function echo({ group, messages, timeoutMs = 60_000 }: { group: string; messages: number; timeoutMs?: number }) {
  const list = groups.get(group)!;
  const hist = new Hist();
  return new Promise<{ roundTrips: number; elapsedMs: number; latency: ReturnType<Hist["summary"]> }>((resolve) => {
    let active = list.length;
    let roundTrips = 0;
    const t0 = performance.now();
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      for (const ws of list) ws.removeAllListeners("message");
      resolve({ roundTrips, elapsedMs: performance.now() - t0, latency: hist.summary() });
    };
    const timer = setTimeout(finish, timeoutMs);
    for (const ws of list) {
      let left = messages;
      let sentAt = 0;
      const send = () => {
        sentAt = performance.now();
        ws.send(`m${left} ${PAD}`);
      };
      ws.on("message", () => {
        hist.add(performance.now() - sentAt);
        roundTrips++;
        if (--left > 0) send();
        else if (--active === 0) finish();
      });
      send();
    }
  });
}

/**
 * Rooms of sockets (consecutive runs of `roomSize` in the group); each room keeps `window`
 * messages in flight, from rotating senders; a message is done when every member got it.
 * Latency is from send to each delivery. With `exclude`, the server skips the sender. Deliveries are counted during `durationMs` after `warmupMs`.
 */
function broadcast({
  group,
  roomSize,
  window,
  warmupMs,
  durationMs,
  exclude = false,
}: {
  group: string;
  roomSize: number;
  window: number;
  warmupMs: number;
  durationMs: number;
  exclude?: boolean;
}) {
  const list = groups.get(group)!;
  const hist = new Hist();
  const RING = 1024;
  let deliveries = 0;
  let recording = false;
  let sending = true;
  return new Promise<{ deliveries: number; elapsedMs: number; latency: ReturnType<Hist["summary"]> }>((resolve) => {
    let tStart = 0;
    for (let r = 0; r * roomSize < list.length; r++) {
      const members = list.slice(r * roomSize, (r + 1) * roomSize);
      const sentAt = new Float64Array(RING);
      const remaining = new Int32Array(RING);
      let seq = 0;
      const sendNext = () => {
        const s = seq++;
        sentAt[s % RING] = performance.now();
        // With `exclude` the sender does not get its own message.
        remaining[s % RING] = exclude ? members.length - 1 : members.length;
        members[s % members.length]!.send(`${s} ${PAD}`);
      };
      const onMessage = (data: Buffer) => {
        let s = 0;
        for (let i = 0; i < data.length; i++) {
          const c = data[i]!;
          if (c < 48 || c > 57) break;
          s = s * 10 + (c - 48);
        }
        const slot = s % RING;
        if (recording) {
          hist.add(performance.now() - sentAt[slot]!);
          deliveries++;
        }
        if (--remaining[slot] === 0 && sending) sendNext();
      };
      for (const ws of members) ws.on("message", onMessage);
      for (let i = 0; i < window; i++) sendNext();
    }
    setTimeout(() => {
      recording = true;
      tStart = performance.now();
      setTimeout(() => {
        recording = false;
        sending = false;
        const elapsedMs = performance.now() - tStart;
        // Let in-flight messages drain before the next run.
        setTimeout(() => {
          for (const ws of list) ws.removeAllListeners("message");
          resolve({ deliveries, elapsedMs, latency: hist.summary() });
        }, 500);
      }, durationMs);
    }, warmupMs);
  });
}

/** One round trip on one socket (ms). */
function ping({ group, index }: { group: string; index: number }): Promise<number> {
  const ws = groups.get(group)![index]!;
  return new Promise((resolve) => {
    const t0 = performance.now();
    ws.once("message", () => resolve(performance.now() - t0));
    ws.send(`ping ${PAD}`);
  });
}

/** GETs `paths` on `base` (50 requests in flight, keep-alive); fails on a status other than 200. */
async function visit({ base, paths }: { base: string; paths: string[] }): Promise<number> {
  const agent = new Agent({ keepAlive: true, maxSockets: 50 });
  let next = 0;
  const one = (path: string) =>
    new Promise<void>((resolve, reject) => {
      const req = request(base + path, { agent }, (res) => {
        res.resume();
        res.on("end", () => (res.statusCode === 200 ? resolve() : reject(new Error(`GET ${path}: ${res.statusCode}`))));
      });
      req.on("error", reject);
      req.end();
    });
  await Promise.all(
    Array.from({ length: 50 }, async () => {
      while (next < paths.length) await one(paths[next++]!);
    }),
  );
  agent.destroy();
  return paths.length;
}

serve({ visit, connect, close, echo, broadcast, ping, count: () => [...groups.values()].reduce((n, g) => n + g.length, 0) });
