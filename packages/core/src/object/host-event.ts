import type { TimerHandle } from "../clock.ts";
import type { SocketEnd } from "../websocket/socket-end.ts";
import type { Incarnation } from "./incarnation.ts";

/** A handler method of a Durable Object class, as the host calls it. */
export type Handler = (...args: unknown[]) => unknown;

/** One unit of work for an object's instance, started in arrival order by its input gate. */
export interface HostEvent {
  readonly kind: "webSocketMessage" | "webSocketClose" | "webSocketError" | "listener" | "call" | "alarm";
  readonly end?: SocketEnd;
  args?: unknown[];
  /** For "call": runs against the instance; its result settles `resolve`/`reject` after the output gate. */
  readonly call?: (instance: Record<string, unknown>) => unknown;
  resolve?: (value: unknown) => void;
  reject?: (error: unknown) => void;
  /** The incarnation that ran it: if that one was reset meanwhile, the event reports no success. */
  incarnation?: Incarnation;
  /** Set when the event timeout gave up on this event. */
  timedOut?: boolean;
  timer?: TimerHandle;
}

/**
 * Whether the socket leaves the object's registry once `event` has run: after
 * webSocketClose, and after the webSocketError of a protocol error such as
 * an oversized message, which workerd follows with no webSocketClose.
 */
export function endsSocket(event: HostEvent): boolean {
  return event.kind === "webSocketClose" || (event.kind === "webSocketError" && event.end!.protocolError);
}
