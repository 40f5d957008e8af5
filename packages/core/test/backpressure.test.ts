/**
 * A client that stops reading while its room broadcasts: without a limit
 * the server buffers everything for it (RSS grows by the whole flood). With
 * maxBufferedBytes the reader is dropped (webSocketError, Close 1013, then
 * webSocketClose when the connection ends), the server's RSS stays
 * bounded, and the reader that keeps up gets every message.
 */
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath, pathToFileURL } from "node:url";
import { expect, onTestFinished, test } from "vitest";
import { WebSocket as WsClient } from "ws";

const here = dirname(fileURLToPath(import.meta.url));
const tsx = pathToFileURL(join(dirname(createRequire(join(here, "../../../package.json")).resolve("tsx/package.json")), "dist/loader.mjs")).href;

const MiB = 1024 * 1024;
const MESSAGES = 4_096;
const SIZE = 64 * 1024; // 256 MiB in all, to each socket
const BATCH = 32;

/** Starts the fixture server; resolves its URL and a reader of its event lines. */
async function startServer(env: { MAX_BUFFERED_BYTES: number; CLOSE_TIMEOUT_MS: number }) {
  const child = spawn(process.execPath, ["--expose-gc", "--conditions=@torpor/source", "--import", tsx, join(here, "fixtures/backpressure-server.ts")], {
    stdio: ["ignore", "pipe", "inherit"],
    env: { ...process.env, MAX_BUFFERED_BYTES: String(env.MAX_BUFFERED_BYTES), CLOSE_TIMEOUT_MS: String(env.CLOSE_TIMEOUT_MS) },
  });
  onTestFinished(() => void child.kill("SIGKILL"));
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const nextLine = async () => (await lines.next()).value as string;
  const port = Number(/^listening (\d+)$/.exec(await nextLine())![1]);
  return { url: `ws://127.0.0.1:${port}/R/room`, nextLine };
}

const open = (ws: WsClient) => new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));

/** A client that stops reading right after connecting: the kernel buffers fill, then everything waits in the server. */
async function pausedReader(url: string) {
  const ws = new WsClient(url);
  ws.on("error", () => {});
  onTestFinished(() => ws.terminate());
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.once("close", (code, reason) => resolve({ code, reason: String(reason) })));
  await open(ws);
  const socket = (ws as unknown as { _socket: { pause(): void; resume(): void } })._socket;
  socket.pause();
  return { ws, closed, resume: () => socket.resume() };
}

/** A client that reads everything and paces the flood with acknowledgements; resolves the server's peak RSS growth. */
async function floodThroughReader(url: string) {
  const fast = new WsClient(url);
  onTestFinished(() => fast.terminate());
  await open(fast);
  let received = 0;
  const growth = new Promise<number>((resolve) =>
    fast.on("message", (data, isBinary) => {
      if (!isBinary) return resolve(Number(/^done (\d+)$/.exec(String(data))![1]));
      received++;
      if (received % BATCH === 0) fast.send("ack");
    }),
  );
  fast.send(`flood ${MESSAGES} ${SIZE} ${BATCH}`);
  return { fast, growth, received: () => received };
}

/**
 * Each test pushes a fixed amount of data through real sockets (the first test all 256 MiB to two sockets): a few
 * seconds on an idle machine, 33 s at load 21 on two cores, so each has a budget for its work rather than the default
 * minute.
 */
const FLOOD_TEST_MS = 180_000;

test("a paused reader is dropped at maxBufferedBytes; the server's RSS stays bounded and the other reader gets everything", {
  timeout: FLOOD_TEST_MS,
}, async () => {
  const { url, nextLine } = await startServer({ MAX_BUFFERED_BYTES: 4 * MiB, CLOSE_TIMEOUT_MS: 200 });
  await pausedReader(url);
  const { fast, growth, received } = await floodThroughReader(url);
  // The flood is 256 MiB per socket; the stalled one may hold 4 MiB plus one message.
  expect(await growth).toBeLessThan(96 * MiB);
  expect(received()).toBe(MESSAGES);
  expect(await nextLine()).toBe("error ERR_WEBSOCKET_BACKPRESSURE");
  // It never answers the Close frame, so the connection is dropped after closeTimeoutMs.
  expect(await nextLine()).toBe("close 1006 false");
  expect(fast.readyState).toBe(WsClient.OPEN);
});

test("a reader that catches up after being shed finds the Close frame with 1013 behind its backlog", { timeout: FLOOD_TEST_MS }, async () => {
  const { url, nextLine } = await startServer({ MAX_BUFFERED_BYTES: 4 * MiB, CLOSE_TIMEOUT_MS: 60_000 });
  const slow = await pausedReader(url);
  await floodThroughReader(url);
  expect(await nextLine()).toBe("error ERR_WEBSOCKET_BACKPRESSURE");
  slow.resume();
  expect(await slow.closed).toEqual({ code: 1013, reason: "Slow consumer: too much data waiting to be read" });
  // Its answer completes the handshake: the object hears the code it echoed.
  expect(await nextLine()).toBe("close 1013 true");
});
