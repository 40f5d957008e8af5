// The floor under a cross-worker stub call, measured in the same run as the cluster's figure: one round trip of a
// length-prefixed v8.serialize frame (a call the size of `ping()`'s) over a Unix stream socket to another process
// that deserializes it and answers with a reply frame (servers/frame-echo.ts). That is what a direct channel's call
// costs with nothing of Torpor's done at either end: two wake-ups of a process, two writes, two reads.
import { fork } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { deserialize, serialize } from "node:v8";

const ECHO = fileURLToPath(new URL("../servers/frame-echo.ts", import.meta.url));

/** `calls` round trips timed one by one (µs, sorted), after a warm-up; and the CPU of both processes per round trip (µs). */
export async function channelFloor(calls: number, cpuOf: (pid: number) => number): Promise<{ us: number[]; cpuUs: number }> {
  const dir = mkdtempSync(join(tmpdir(), "torpor-floor-"));
  const path = join(dir, "s");
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(path, resolve));
  const accepted = new Promise<Socket>((resolve) => server.once("connection", resolve));
  const child = fork(ECHO, [path], { stdio: "inherit" });
  try {
    const socket = await accepted;
    socket.setNoDelay(true);
    const key = { namespace: "Obj", id: "a".repeat(64), name: "t1" };
    let pending = Buffer.alloc(0);
    let answered: (() => void) | null = null;
    socket.on("data", (chunk: Buffer) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      while (pending.length >= 4 && pending.length >= 4 + pending.readUInt32BE(0)) {
        const length = pending.readUInt32BE(0);
        deserialize(pending.subarray(4, 4 + length));
        pending = pending.subarray(4 + length);
        const done = answered;
        answered = null;
        done?.();
      }
    });
    const roundTrip = (rid: number) =>
      new Promise<void>((resolve) => {
        answered = resolve;
        const body = serialize({ t: "call", rid, key, op: "call", method: "ping", args: [], refs: [] });
        const head = Buffer.allocUnsafe(4);
        head.writeUInt32BE(body.byteLength, 0);
        socket.write(Buffer.concat([head, body]));
      });
    for (let i = 1; i <= 500; i++) await roundTrip(i);
    const out = new Float64Array(calls);
    const cpu = () => cpuOf(process.pid) + cpuOf(child.pid!);
    const c0 = cpu();
    for (let i = 0; i < calls; i++) {
      const t = performance.now();
      await roundTrip(i + 1);
      out[i] = (performance.now() - t) * 1000;
    }
    const cpuUs = (cpu() - c0) / calls;
    socket.destroy();
    return { us: [...out.sort()], cpuUs };
  } finally {
    child.kill();
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
