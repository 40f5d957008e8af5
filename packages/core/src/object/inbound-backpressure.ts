/**
 * Inbound backpressure. A client that sends faster than its object handles
 * would otherwise grow the object's event queue without limit. Past
 * `limits.maxPendingEvents` events queued or running, the socket that brought
 * the event stops being read (ws's `pause()`: TCP flow control then holds the
 * sender back) until the object is down to half of it. Frames already read
 * from the socket are still delivered (at most one read, 64 KiB), in order.
 * Hibernatable and `ws.accept()` sockets alike.
 *
 * Functions over the host's list of paused sockets (null while none is, as for
 * nearly every object): no state of its own per object.
 */
import type { SocketEnd } from "../websocket/socket-end.ts";

/** The event counts the bound applies to (the object's input gate). */
export interface PendingEvents {
  readonly queued: number;
  readonly running: number;
}

/** After `end` brought an event: stops reading it if the object is over `limit`. Returns the paused list. */
export function pauseIfOver(events: PendingEvents, limit: number, end: SocketEnd, paused: SocketEnd[] | null): SocketEnd[] | null {
  if (events.queued + events.running <= limit) return paused;
  const conn = end.conn;
  if (conn === null || conn.isPaused) return paused;
  conn.pause();
  if (paused === null) return [end];
  paused.push(end);
  return paused;
}

/**
 * After an event ended: resumes the paused sockets once the object is down to
 * half of `limit` (or at once with `all`, a reset). Returns the paused list.
 */
export function resumeIfUnder(events: PendingEvents, limit: number, paused: SocketEnd[] | null, all = false): SocketEnd[] | null {
  if (paused === null) return null;
  if (!all && events.queued + events.running > limit / 2) return paused;
  for (const end of paused) end.conn?.resume();
  return null;
}
