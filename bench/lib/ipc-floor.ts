// The floor under a reload's socket move, measured in the same run as the reload: N accepted TCP sockets handed
// over Node's IPC old -> relay -> new (servers/ipc-relay.ts), the two hops a reload's move takes, with nothing
// else done per socket. Node sends a process's next descriptor only after the receiver acknowledged the last, so
// this is about one round trip between processes per socket per hop (pipelined across the hops).
import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";

const RELAY = fileURLToPath(new URL("../servers/ipc-relay.ts", import.meta.url));

/** Milliseconds to hand `sockets` descriptors over two Node IPC hops (bounded by `timeoutMs`). */
export function ipcHandleFloorMs(sockets: number, timeoutMs = 300_000): Promise<number> {
  const relay = fork(RELAY, ["relay", String(sockets)], { stdio: "inherit" });
  return new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => {
      relay.kill("SIGKILL");
      reject(new Error(`the IPC floor did not finish within ${timeoutMs} ms`));
    }, timeoutMs);
    relay.once("message", (message: { ms: number }) => {
      clearTimeout(timer);
      resolve(message.ms);
    });
    relay.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`the IPC relay exited (${code}) before reporting`));
    });
  });
}
