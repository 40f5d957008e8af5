/**
 * Moving every object of a worker out (reload): each object's sockets stop
 * reading at the kernel first, so whatever clients send from then on waits
 * there; the object finishes its events and commits (moveOut); then each
 * open hibernatable socket goes to the supervisor with its tags, attachment,
 * auto-response time and the bytes read but not parsed. Sockets accepted
 * with ws.accept() cannot move (their state lives in the instance) and were
 * closed with 1012 by moveOut.
 */
import type { Runtime } from "@torpor/core";
import { detachSocket, stopReading, written } from "@torpor/core/cluster";
import type { FromWorker } from "./ipc.ts";

export async function moveOut(
  runtime: Runtime,
  send: (message: FromWorker, handle?: unknown) => void,
): Promise<{ objects: number; sockets: number; closed: number }> {
  const hosts = runtime.hosts();
  for (const host of hosts) for (const end of host.sockets) if (end.conn !== null) stopReading(end.conn);
  let sockets = 0;
  let closed = 0;
  await Promise.all(
    hosts.map(async (host) => {
      const ends = await host.moveOut();
      runtime.forget(host);
      const pair = host.autoResponse;
      if (pair !== null) send({ t: "auto-response", key: host.key, request: pair.request, response: pair.response });
      for (const end of ends) {
        const conn = end.conn;
        if (conn === null) continue;
        await written(conn);
        const detached = detachSocket(conn);
        if (detached === null) {
          conn.close(1012, "Server restarting");
          closed++;
          continue;
        }
        end.conn = null;
        // Nothing here serves this connection any more: the server forgets it (heartbeat, shutdown).
        conn.emit("close", 1012, Buffer.alloc(0));
        sockets++;
        send(
          {
            t: "socket",
            moved: {
              key: host.key,
              tags: end.tags,
              attachment: end.attachment,
              autoResponseAt: end.autoResponseAt,
              protocol: end.protocol,
              unparsed: detached.unparsed,
            },
          },
          detached.socket,
        );
      }
    }),
  );
  return { objects: hosts.length, sockets, closed };
}
