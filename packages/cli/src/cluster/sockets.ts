/**
 * Passing TCP sockets between cluster processes. A socket is sent with
 * reading stopped at the kernel, and whatever this process already read
 * travels with it as bytes, so nothing the peer sent is lost or reordered
 * whichever process reads next.
 */
import type { IncomingMessage } from "node:http";
import type { Socket } from "node:net";
import type { Duplex } from "node:stream";
import type { FromWorker } from "./ipc.ts";

/** Stops reading and returns the bytes the stream read but nobody consumed. */
export function takeSocket(socket: Socket): Buffer {
  const handle = (socket as unknown as { _handle: { reading: boolean; readStop(): number } | null })._handle;
  if (handle !== null) {
    handle.reading = false;
    handle.readStop();
  }
  socket.removeAllListeners("data");
  socket.pause();
  const chunks: Buffer[] = [];
  let chunk: Buffer | null;
  while ((chunk = socket.read() as Buffer | null) !== null) chunks.push(chunk);
  return Buffer.concat(chunks);
}

/**
 * Starts the kernel reads again on a socket `takeSocket` stopped, for one that
 * stays in this process (spliced to another node). The stream still thinks a
 * read is pending, so resume() alone would never ask the handle again.
 */
export function restartReading(socket: Socket): void {
  const handle = (socket as unknown as { _handle: { reading: boolean; readStart(): number } | null })._handle;
  if (handle !== null && !handle.reading) {
    handle.reading = true;
    handle.readStart();
  }
  socket.resume();
}

/** Sends a client's upgrade (its socket, request head and bytes past it) to the worker whose object accepted it. */
export function handOffUpgrade(
  send: (message: FromWorker, handle?: unknown) => void,
  owner: number,
  token: number,
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
): void {
  const net = socket as Socket;
  const more = takeSocket(net);
  send(
    {
      t: "upgrade",
      to: owner,
      token,
      req: { method: req.method ?? "GET", url: req.url ?? "/", headers: req.headers },
      head: more.length > 0 ? Buffer.concat([head, more]) : head,
    },
    net,
  );
}
