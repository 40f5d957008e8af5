import type { TimerHandle } from "../clock.ts";
import type { Message, SocketEnd } from "../websocket/socket-end.ts";
import type { WebSocket } from "../websocket/web-socket.ts";
import type { Incarnation } from "./incarnation.ts";

/** A handler method of a Durable Object class, as the host calls it. */
export type Handler = (...args: unknown[]) => unknown;

/** What the host records on any event while it runs. */
interface EventState {
  /** The incarnation that ran it: if that one was reset meanwhile, the event reports no success. */
  incarnation?: Incarnation;
  /** Set when the event timeout gave up on this event. */
  timedOut?: boolean;
  timer?: TimerHandle;
}

/** `webSocketMessage(ws, message)` of a hibernatable socket. */
export interface SocketMessageEvent extends EventState {
  readonly kind: "webSocketMessage";
  readonly end: SocketEnd;
  readonly args: [message: Message];
}

/** `webSocketClose(ws, code, reason, wasClean)` of a hibernatable socket. */
export interface SocketCloseEvent extends EventState {
  readonly kind: "webSocketClose";
  readonly end: SocketEnd;
  readonly args: [code: number, reason: string, wasClean: boolean];
}

/** `webSocketError(ws, error)` of a hibernatable socket. */
export interface SocketErrorEvent extends EventState {
  readonly kind: "webSocketError";
  readonly end: SocketEnd;
  readonly args: [error: unknown];
}

/** An event for the listeners of a socket accepted with `ws.accept()`. */
export interface ListenerEvent extends EventState {
  readonly kind: "listener";
  readonly end: SocketEnd;
  readonly dispatched: Parameters<WebSocket["dispatch"]>[0];
}

/** A call into the instance (fetch, RPC, property read, `runInDurableObject`): its result settles after the output gate. */
export interface CallEvent extends EventState {
  readonly kind: "call";
  readonly call: (instance: Record<string, unknown>) => unknown;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
}

/** `alarm()`: fired by the timer, a retry, or `runAlarmNow` (forced, with a caller waiting). */
export interface AlarmEvent extends EventState {
  readonly kind: "alarm";
  /** Run whatever the stored time (runAlarmNow): not only once it is due. */
  readonly forced: boolean;
  /** The stored time `alarm()` ran for; undefined while it has not run. */
  scheduledTime?: number;
  /** A forced run's caller: told whether `alarm()` ran. */
  readonly resolve?: (ran: boolean) => void;
  readonly reject?: (error: unknown) => void;
}

/** One unit of work for an object's instance, started in arrival order by its input gate. */
export type HostEvent = SocketMessageEvent | SocketCloseEvent | SocketErrorEvent | ListenerEvent | CallEvent | AlarmEvent;

/** The events of hibernatable sockets, which go to the handler of the same name. */
export type SocketHandlerEvent = SocketMessageEvent | SocketCloseEvent | SocketErrorEvent;

/**
 * Whether the socket leaves the object's registry once `event` has run: after
 * webSocketClose, and after the webSocketError of a protocol error such as
 * an oversized message, which workerd follows with no webSocketClose.
 */
export function endsSocket(event: HostEvent): event is SocketCloseEvent | SocketErrorEvent {
  return event.kind === "webSocketClose" || (event.kind === "webSocketError" && event.end.protocolError);
}
