/**
 * Output of object code on sockets no object owns: the client end of a
 * WebSocket that another object (or the Worker) returned from `fetch()`, and
 * outbound `new WebSocket(url)` clients. On Cloudflare every send waits for
 * the output gate of the code that sends it, whatever the socket: a message
 * another object acts on must not leave before the writes it follows are
 * durable, or a power loss could keep its effect and lose its cause. Sockets
 * an object owns are held by that object's gate (object/output-gate.ts);
 * these wait for the sender's barrier (owner-context.ts), in one chain per
 * socket so that messages stay in order. What a sender whose writes failed
 * (or whose instance was reset) sends is dropped.
 */
import { currentOutputBarrier } from "../owner-context.ts";

/** A socket end as seen here (a `SocketEnd`; structural, so that socket-end.ts can import this file). */
interface Transmitter<T> {
  transmit(item: T): void;
}

/** The last held item of each socket that has one (kept beside the end: most ends never hold anything). */
const tails = new WeakMap<object, Promise<void>>();

/**
 * Holds `item` (a message or a close from `end`) until the running code's
 * writes so far are durable, and after whatever `end` already holds; returns
 * false when it may be transmitted now. If the sender's writes fail, `item`
 * is dropped, or replaced by `instead` (a close: the connection must still
 * end, with the runtime's code rather than the dead code's).
 */
export function holdOwnerlessOutput<T>(end: Transmitter<T>, item: T, instead?: T): boolean {
  const barrier = currentOutputBarrier();
  const previous = tails.get(end);
  if (barrier === null && previous === undefined) return false;
  // Settled at once into a flag, so a failure is handled even while earlier items still wait.
  const allowed = barrier === null ? true : barrier.then(yes, no);
  const tail = (previous ?? Promise.resolve())
    .then(() => allowed)
    .then((send) => {
      if (tails.get(end) === tail) tails.delete(end);
      if (send) end.transmit(item);
      else if (instead !== undefined) end.transmit(instead);
    });
  tails.set(end, tail);
  return true;
}

function yes(): boolean {
  return true;
}

function no(): boolean {
  return false;
}
