// What one message each way costs between two event loops on this machine, by transport: the floor under a
// cross-worker call (issue 23 item 5). Two processes over a Unix stream socket (a `v8.serialize` frame each way,
// what bench/lib/channel-floor.ts measures inside `pnpm bench cluster`), two threads over a MessagePort, and two
// threads over a SharedArrayBuffer (Atomics.notify, the main thread awaiting Atomics.waitAsync). An experiment
// behind bench/CLUSTER.md, not a bench part. Run it under the bench lock: node bench/scripts/wake-floors.mjs
import { fork } from "node:child_process";
import net from "node:net";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { deserialize, serialize } from "node:v8";
import { isMainThread, parentPort, Worker } from "node:worker_threads";

const N = 3_000;
const ROUNDS = 3;
const self = new URL(import.meta.url).pathname;

if (process.argv[2] === "echo-process") {
  const socket = net.connect(process.argv[3]);
  socket.on("data", (d) => socket.write(serialize(deserialize(d))));
} else if (!isMainThread) {
  parentPort.on("message", (m) => {
    if (m?.sab === undefined) return parentPort.postMessage(m);
    // Blocks this thread for good: it only answers the main thread's notifications from here on.
    const cells = new Int32Array(m.sab);
    for (;;) {
      Atomics.wait(cells, 0, 0);
      Atomics.store(cells, 0, 0);
      Atomics.store(cells, 1, 1);
      Atomics.notify(cells, 1);
    }
  });
} else {
  console.log(
    `load average ${loadavg()
      .map((x) => x.toFixed(2))
      .join(" ")}`,
  );
  for (let round = 1; round <= ROUNDS; round++) {
    report(`round ${round}: two processes, Unix stream socket, a v8 frame each way`, await processes());
    report(`round ${round}: two threads, MessagePort`, await threadsPort());
    report(`round ${round}: two threads, SharedArrayBuffer + Atomics`, await threadsAtomics());
  }
  console.log(
    `load average ${loadavg()
      .map((x) => x.toFixed(2))
      .join(" ")}`,
  );
  process.exit(0);
}

function report(label, latencies) {
  latencies.sort((a, b) => a - b);
  const at = (q) => latencies[Math.floor(q * (latencies.length - 1))].toFixed(1);
  console.log(`${label}: p50 ${at(0.5)} µs, p99 ${at(0.99)} µs (${latencies.length} round trips)`);
}

/** Times `N` sequential round trips; `send(i)` starts one, `done` is called by whoever sees its answer. */
function pingPong(send, listen) {
  return new Promise((resolve) => {
    const out = [];
    let t = process.hrtime.bigint();
    listen(() => {
      out.push(Number(process.hrtime.bigint() - t) / 1000);
      if (out.length === N) return resolve(out);
      t = process.hrtime.bigint();
      send(out.length);
    });
    send(0);
  });
}

async function processes() {
  const path = join(tmpdir(), `wake-floors-${process.pid}.sock`);
  const server = net.createServer();
  await new Promise((r) => server.listen(path, r));
  const child = fork(self, ["echo-process", path]);
  const socket = await new Promise((r) => server.once("connection", r));
  const out = await pingPong(
    (i) => socket.write(serialize({ i })),
    (done) =>
      socket.on("data", (d) => {
        deserialize(d);
        done();
      }),
  );
  child.kill();
  server.close();
  return out;
}

async function threadsPort() {
  const worker = new Worker(self);
  const out = await pingPong(
    (i) => worker.postMessage(i),
    (done) => worker.on("message", done),
  );
  await worker.terminate();
  return out;
}

async function threadsAtomics() {
  const worker = new Worker(self);
  const cells = new Int32Array(new SharedArrayBuffer(8));
  worker.postMessage({ sab: cells.buffer });
  const out = [];
  for (let i = 0; i < N; i++) {
    const t = process.hrtime.bigint();
    Atomics.store(cells, 0, 1);
    Atomics.notify(cells, 0);
    const wait = Atomics.waitAsync(cells, 1, 0);
    if (wait.async) await wait.value;
    Atomics.store(cells, 1, 0);
    out.push(Number(process.hrtime.bigint() - t) / 1000);
  }
  await worker.terminate();
  return out;
}
