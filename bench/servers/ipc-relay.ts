// The floor under a reload's socket move (bench/lib/ipc-floor.ts): N accepted TCP sockets handed over Node's IPC
// from one process to another through a relay, as a reload hands them old worker -> supervisor -> new worker.
// Roles (argv[2]): "relay" forks "old" and "new", connects N clients to old's server (so no process holds more than
// ~2N descriptors), asks old to send, and reports {ms} from "go" to new's "got all" to its parent.
import { fork } from "node:child_process";
import { createServer, connect, type Socket } from "node:net";
import { fileURLToPath } from "node:url";

const [role, countArg] = process.argv.slice(2);
const count = Number(countArg);
const self = fileURLToPath(import.meta.url);

if (role === "old") {
  const held: Socket[] = [];
  const server = createServer({ pauseOnConnect: true }, (socket) => {
    held.push(socket);
    if (held.length === count) process.send!({ t: "ready", port });
  });
  let port = 0;
  server.listen(0, "127.0.0.1", () => {
    port = (server.address() as { port: number }).port;
    process.send!({ t: "listening", port });
  });
  process.on("message", (message: { t: string }) => {
    if (message.t !== "go") return;
    for (const socket of held) process.send!({ t: "socket" }, socket);
  });
} else if (role === "new") {
  let got = 0;
  const sockets: Socket[] = [];
  process.on("message", (message: { t: string }, handle?: Socket) => {
    if (message.t !== "socket" || handle === undefined) return;
    sockets.push(handle);
    if (++got === count) process.send!({ t: "got" });
  });
} else if (role === "relay") {
  const old = fork(self, ["old", String(count)], { stdio: "inherit" });
  const next = fork(self, ["new", String(count)], { stdio: "inherit" });
  const clients: Socket[] = [];
  let started = 0;
  old.on("message", (message: { t: string; port?: number }, handle?: Socket) => {
    if (message.t === "listening") {
      for (let i = 0; i < count; i++) clients.push(connect(message.port!, "127.0.0.1").on("error", () => {}));
    } else if (message.t === "ready") {
      started = performance.now();
      old.send({ t: "go" });
    } else if (message.t === "socket") next.send(message, handle);
  });
  next.on("message", (message: { t: string }) => {
    if (message.t !== "got") return;
    process.send!({ ms: performance.now() - started });
    for (const c of clients) c.destroy();
    old.kill();
    next.kill();
    process.disconnect();
  });
}
