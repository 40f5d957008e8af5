/**
 * Running one event inside an object's instance, once its input gate
 * started it: the handler it goes to, the instance's async context, the
 * hibernatable-socket event timeout, and what its end means (a call's result
 * released after the output gate, an alarm cleared or retried, a handler's
 * error reported, the socket leaving the registry after webSocketClose).
 * Functions with the host as argument: no closure per object.
 */
import type { Clock } from "../clock.ts";
import { TorporError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import type { Metrics, ObjectCounters } from "../metrics.ts";
import { isThenable } from "../thenable.ts";
import { OPEN, type Message, type SocketEnd } from "../websocket/socket-end.ts";
import { facadeOf } from "../websocket/web-socket.ts";
import type { AlarmScheduler } from "./alarm-scheduler.ts";
import { runAs } from "./fault-isolation.ts";
import type { HostControl } from "./host-control.ts";
import { endsSocket, type Handler, type HostEvent, type SocketCloseEvent, type SocketErrorEvent } from "./host-event.ts";
import type { HostSockets } from "./host-sockets.ts";
import type { Incarnation } from "./incarnation.ts";
import type { InputGate } from "./input-gate.ts";
import type { OutputGate } from "./output-gate.ts";

/** What running an event needs from its object's host. */
export interface DispatchHost extends HostControl {
  readonly counters: ObjectCounters;
  /** The kind and time of the last event delivered to an instance (the admin dashboard shows it). */
  lastEventKind: HostEvent["kind"] | null;
  lastEventAt: number;
  readonly eventTimeoutMs: number | null;
  readonly runtime: {
    readonly options: { readonly logger: Logger; readonly clock: Clock };
    readonly metrics: Metrics;
    touched(host: HostControl): void;
  };
  /** The live instance and the async context its code runs in. */
  readonly instance: Record<string, unknown> | null;
  readonly incarnation: Incarnation | null;
  readonly sockets: HostSockets;
  readonly gate: OutputGate;
  readonly input: InputGate;
  readonly alarms: AlarmScheduler;
  reportHandlerError(event: HostEvent, error: unknown): void;
  /** An event ended (after the input gate counted it): sockets paused by inbound backpressure may resume. */
  eventFinished(): void;
}

/** Runs `event` on the live instance (the input gate has counted it as running). */
export function runEvent(host: DispatchHost, event: HostEvent): void {
  const instance = host.instance!;
  const incarnation = host.incarnation!;
  event.incarnation = incarnation;
  started(host, event.kind);
  let result: unknown;
  try {
    result = runAs(incarnation, invoke, host, instance, event);
  } catch (error) {
    finish(host, event, undefined, error);
    return;
  }
  if (isThenable(result)) finishLater(host, event, result);
  else finish(host, event, result, undefined, false);
}

/**
 * `runEvent` for a hibernatable socket's message, the commonest event, when it can start at once:
 * the same steps, but no event record unless the handler throws or returns a promise (the record is
 * made then, and the event goes on as `runEvent`'s would). A message that returned has nothing to
 * settle: its end is the input gate's count and the backpressure check, as in `finish`.
 */
export function runMessage(host: DispatchHost, end: SocketEnd, data: Message): void {
  const instance = host.instance!;
  const incarnation = host.incarnation!;
  started(host, "webSocketMessage");
  let result: unknown;
  try {
    result = runAs(incarnation, invokeMessage, host, instance, end, data);
  } catch (error) {
    finish(host, { kind: "webSocketMessage", end, args: [data], incarnation }, undefined, error);
    return;
  }
  if (isThenable(result)) {
    finishLater(host, { kind: "webSocketMessage", end, args: [data], incarnation }, result);
    return;
  }
  host.input.finished();
  host.eventFinished();
}

/** What starting any event records: the object's count, the kind and time of its last event, and that it was used. */
function started(host: DispatchHost, kind: HostEvent["kind"]): void {
  host.counters.events++;
  host.lastEventKind = kind;
  host.lastEventAt = host.runtime.options.clock.now();
  host.runtime.touched(host);
}

/** A hibernatable socket's message to `webSocketMessage()` (from `runMessage`, or `invoke` for a queued one). */
function invokeMessage(host: DispatchHost, instance: Record<string, unknown>, end: SocketEnd, data: Message): unknown {
  host.runtime.metrics.events.webSocketMessage++;
  const handler = instance.webSocketMessage as Handler | undefined;
  if (typeof handler !== "function") {
    host.runtime.options.logger.warn("A hibernatable WebSocket received a message but the class has no webSocketMessage() handler", {
      object: host.key.id,
    });
    return undefined;
  }
  return handler.call(instance, facadeOf(end), data);
}

/** The event's handler returned a promise: it ends when that settles (or when the event timeout gives up on it). */
function finishLater(host: DispatchHost, event: HostEvent, result: PromiseLike<unknown>): void {
  if (host.eventTimeoutMs !== null && event.kind.startsWith("webSocket")) armEventTimeout(host, event);
  result.then(
    (value) => finish(host, event, value, undefined, false),
    (error: unknown) => finish(host, event, undefined, error, true),
  );
}

function invoke(host: DispatchHost, instance: Record<string, unknown>, event: HostEvent): unknown {
  const metrics = host.runtime.metrics.events;
  switch (event.kind) {
    case "webSocketMessage":
      return invokeMessage(host, instance, event.end, event.args[0]);
    case "webSocketClose":
    case "webSocketError": {
      metrics[event.kind]++;
      const handler = instance[event.kind] as Handler | undefined;
      if (typeof handler !== "function") return undefined;
      return handler.call(instance, facadeOf(event.end), ...event.args);
    }
    case "listener":
      facadeOf(event.end).dispatch(event.dispatched);
      return undefined;
    case "call":
      return event.call(instance);
    case "alarm":
      metrics.alarm++;
      return host.alarms.run(instance, event);
  }
}

function finish(host: DispatchHost, event: HostEvent, value: unknown, error: unknown, failed = error !== undefined): void {
  if (event.timedOut === true) return;
  event.timer?.cancel();
  if (endsSocket(event)) socketDone(host, event);
  // Reset while it ran: its writes may be gone with the failed batch, so it reports no success.
  const resetBy = event.incarnation?.resetBy ?? null;
  if (resetBy !== null) {
    if (event.kind === "call") event.reject(resetBy);
    else if (event.kind === "alarm") host.alarms.finished(event, true, resetBy);
    host.input.finished();
    host.eventFinished();
    return;
  }
  if (event.kind === "call") {
    if (failed) event.reject(error);
    else if (host.gate.holding) host.gate.afterCommit().then(() => event.resolve(value), event.reject);
    else event.resolve(value);
  } else if (event.kind === "alarm") {
    host.alarms.finished(event, failed, error);
  } else if (failed) {
    host.reportHandlerError(event, error);
  }
  host.input.finished();
  host.eventFinished();
}

/** The last event of a hibernatable socket ran: it leaves the registry, and a Close the handler left unanswered is answered. */
function socketDone(host: DispatchHost, event: SocketCloseEvent | SocketErrorEvent): void {
  host.sockets.delete(event.end);
  if (event.kind === "webSocketClose") event.end.closeHandled(...event.args);
}

/** Fails every queued event with `error` (the instance could not be made); with `closeReason`, their sockets are closed with 1011. */
export function failQueued(host: DispatchHost, error: unknown, closeReason?: string): void {
  for (const event of host.input.takeQueued()) {
    if (event.kind === "alarm" && event.reject === undefined) {
      host.alarms.retryLater();
      continue;
    }
    if (event.kind === "call" || event.kind === "alarm") event.reject?.(error);
    else if (endsSocket(event)) socketDone(host, event);
    else if (closeReason !== undefined && event.end.state === OPEN) event.end.close(1011, closeReason);
  }
}

function armEventTimeout(host: DispatchHost, event: HostEvent): void {
  const ms = host.eventTimeoutMs!;
  event.timer = host.runtime.options.clock.setTimeout(() => {
    if (event.timedOut === true) return;
    event.timedOut = true;
    // Abandoned, but the socket is closed all the same: it leaves getWebSockets() as if the handler had returned.
    if (endsSocket(event)) socketDone(host, event);
    host.reportHandlerError(
      event,
      new TorporError("ERR_EVENT_TIMEOUT", `${event.kind}() ran longer than the hibernatable WebSocket event timeout of ${ms} ms and was abandoned.`),
    );
    host.input.finished(true);
    host.eventFinished();
  }, ms);
}
