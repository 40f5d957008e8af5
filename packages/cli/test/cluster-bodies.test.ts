/**
 * Bodies routed between cluster workers stream, with backpressure: a response
 * from an object owned by another worker (SSE, a long download) reaches the
 * client as it is produced, a client that stops reading stops the producer,
 * and a request body reaches the object while the client is still sending.
 */
import { request } from "node:http";
import { afterAll, beforeAll, expect, it, onTestFinished, vi } from "vitest";
import { type FaultCluster, namesOwnedBy, startFaultCluster } from "./cluster-fault-helpers.ts";

let c: FaultCluster;
let room: string;
let owner: number;
beforeAll(async () => {
  c = await startFaultCluster(2);
  [room] = namesOwnedBy(c.data, 1, 1, "s") as [string];
  owner = (await c.rpc(room, "echo", "x")).body.value.pid;
}, 120_000);
afterAll(async () => {
  // Unset if the cluster failed to start: a TypeError here would only add noise to why it did not.
  if (c !== undefined) await c.stop();
});

/** Opens `path` on a connection the supervisor gives to the worker that does not own the room (connections alternate). */
async function openRouted(path: string, init: { method?: string } = {}) {
  for (let i = 0; i < 4; i++) {
    if ((await c.get("/pid")).body.pid !== owner) continue;
    const req = request(`${c.url}${path}`, { agent: false, method: init.method ?? "GET" });
    onTestFinished(() => void req.destroy());
    req.on("error", () => {});
    await new Promise<void>((resolve) => req.once("socket", (socket) => socket.once("connect", () => resolve())));
    return req;
  }
  throw new Error("no connection reached the other worker");
}

async function until(poll: () => Promise<boolean>, timeout = 30_000): Promise<void> {
  await vi.waitFor(
    async () => {
      if (!(await poll())) throw new Error("not yet");
    },
    { timeout, interval: 100 },
  );
}

it("an endless SSE stream from an object owned by another worker reaches the client as it is produced", async () => {
  const req = await openRouted(`/sse/${room}`);
  req.end();
  const res = await new Promise<import("node:http").IncomingMessage>((resolve) => req.once("response", resolve));
  expect(res.headers["content-type"]).toBe("text/event-stream");
  let text = "";
  res.setEncoding("utf8");
  await new Promise<void>((resolve) =>
    res.on("data", (chunk: string) => {
      text += chunk;
      if (text.includes("data: 2\n\n")) resolve();
    }),
  );
  expect(text.startsWith("data: 0\n\ndata: 1\n\ndata: 2\n\n")).toBe(true);
  req.destroy();
});

it("a download from another worker's object stops being produced while the client does not read (backpressure), and completes when it reads", async () => {
  const total = 64 * 1024 * 1024;
  const req = await openRouted(`/download/${room}?bytes=${total}`);
  req.end();
  const res = await new Promise<import("node:http").IncomingMessage>((resolve) => req.once("response", resolve));
  let read = 0;
  let paused = false;
  await new Promise<void>((resolve) =>
    res.on("data", (chunk: Buffer) => {
      read += chunk.length;
      if (read >= 1024 * 1024 && !paused) {
        paused = true;
        res.pause();
        resolve();
      }
    }),
  );
  // The producer stops within a bounded distance of what the client took (windows and socket buffers), far below the total.
  let previous = -1;
  let stable = 0;
  await until(async () => {
    const produced = (await c.rpc(room, "produced")).body.value as number;
    stable = produced === previous ? stable + 1 : 0;
    previous = produced;
    return stable >= 5;
  });
  expect(previous).toBeLessThan(24 * 1024 * 1024);
  const ended = new Promise<void>((resolve) => res.once("end", resolve));
  res.resume();
  await ended;
  expect(read).toBe(total);
}, 120_000);

it("a request body streams to another worker's object while the client is still sending", async () => {
  const req = await openRouted(`/upload/${room}`, { method: "POST" });
  const part = Buffer.alloc(256 * 1024, 97);
  req.write(part);
  // The object has read the first part although the request is not over.
  await until(async () => ((await c.rpc(room, "received")).body.value as number) >= part.length);
  req.write(part);
  req.end(part);
  const res = await new Promise<import("node:http").IncomingMessage>((resolve) => req.once("response", resolve));
  let text = "";
  res.setEncoding("utf8").on("data", (chunk: string) => (text += chunk));
  await new Promise((resolve) => res.once("end", resolve));
  expect(JSON.parse(text)).toMatchObject({ received: 3 * part.length, pid: owner });
}, 60_000);
