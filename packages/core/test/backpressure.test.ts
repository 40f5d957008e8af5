/**
 * A client that stops reading while its room broadcasts: without a limit
 * the server buffers everything for it (RSS grows by the whole flood). With
 * maxBufferedBytes the reader is dropped (webSocketError, Close 1013, then
 * webSocketClose(1006) when the connection ends), the server's RSS stays
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

test("a paused reader is dropped at maxBufferedBytes; the server's RSS stays bounded and the other reader gets everything", async () => {
  const child = spawn(process.execPath, ["--expose-gc", "--conditions=@torpor/source", "--import", tsx, join(here, "fixtures/backpressure-server.ts")], {
    stdio: ["ignore", "pipe", "inherit"],
    env: { ...process.env, MAX_BUFFERED_BYTES: String(4 * MiB) },
  });
  onTestFinished(() => void child.kill("SIGKILL"));
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const nextLine = async () => (await lines.next()).value as string;
  const port = Number(/^listening (\d+)$/.exec(await nextLine())![1]);
  const url = `ws://127.0.0.1:${port}/R/room`;

  const open = (ws: WsClient) => new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
  const slow = new WsClient(url);
  slow.on("error", () => {});
  onTestFinished(() => slow.terminate());
  await open(slow);
  // Stop reading: the kernel buffers fill, then everything waits in the server.
  (slow as unknown as { _socket: { pause(): void } })._socket.pause();

  const fast = new WsClient(url);
  onTestFinished(() => fast.terminate());
  await open(fast);
  let received = 0;
  const done = new Promise<number>((resolve) =>
    fast.on("message", (data, isBinary) => {
      if (!isBinary) return resolve(Number(/^done (\d+)$/.exec(String(data))![1]));
      received++;
      if (received % BATCH === 0) fast.send("ack");
    }),
  );
  fast.send(`flood ${MESSAGES} ${SIZE} ${BATCH}`);

  const growth = await done;
  expect(received).toBe(MESSAGES);
  // The flood is 256 MiB per socket; the stalled one may hold 4 MiB plus one message.
  expect(growth).toBeLessThan(96 * MiB);
  expect(await nextLine()).toBe("error ERR_WEBSOCKET_BACKPRESSURE");
  // It never answers the Close frame, so the connection is dropped after closeTimeoutMs.
  expect(await nextLine()).toBe("close 1006 false");
  expect(fast.readyState).toBe(WsClient.OPEN);
});
