/**
 * Moving every object of a worker out (reload), through core's verb
 * `host.exportSockets()`: each object's sockets stop reading at the kernel
 * first, so whatever clients send from then on waits there; the object
 * finishes its events and commits; then each open hibernatable socket goes
 * to the supervisor with its record (tags, attachment, auto-response time)
 * and the bytes read but not parsed. Sockets accepted with ws.accept()
 * cannot move (their state lives in the instance) and are closed with 1012.
 */
import type { Runtime } from "@torpor/core";
import type { FromWorker } from "./ipc.ts";

export async function moveOut(
  runtime: Runtime,
  send: (message: FromWorker, handle?: unknown) => void,
): Promise<{ objects: number; sockets: number; closed: number }> {
  const hosts = runtime.hosts();
  let sockets = 0;
  let closed = 0;
  // Every host's sockets stop reading in this first synchronous pass (exportSockets does it before awaiting).
  await Promise.all(
    hosts.map(async (host) => {
      const exported = await host.exportSockets();
      runtime.forget(host);
      const pair = exported.autoResponse;
      if (pair !== null) send({ t: "auto-response", key: host.key, request: pair.request, response: pair.response });
      closed += exported.closed;
      for (const { record, socket, unparsed } of exported.sockets) {
        sockets++;
        send({ t: "socket", moved: { ...record, unparsed } }, socket);
      }
    }),
  );
  return { objects: hosts.length, sockets, closed };
}
