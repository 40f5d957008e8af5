import type { Socket } from "node:net";
import type { Clock } from "../clock.ts";
import type { Metrics } from "../metrics.ts";
import type { ObjectKey } from "../storage/storage-provider.ts";
import type { WebSocketRequestResponsePair } from "../websocket/auto-response.ts";
import type { MovedSocket } from "../websocket/moved-socket.ts";
import { CLOSED, HIBERNATABLE, OPEN, SocketEnd, STANDARD, type Message, type SocketOwner } from "../websocket/socket-end.ts";
import { SocketRegistry } from "../websocket/socket-registry.ts";
import type { HostEvent } from "./host-event.ts";

/** What an object's sockets need from its host (the host is also their `SocketOwner`). */
export interface SocketsHost extends SocketOwner {
  readonly key: ObjectKey;
  readonly runtime: {
    readonly options: { readonly clock: Clock };
    readonly metrics: Metrics;
    /** Serves a socket moved in from another process with `end`; `unparsed` is read first. */
    resumeSocket(socket: Socket, unparsed: Buffer, end: SocketEnd): void;
  };
  /** The pair answered without waking the object. */
  readonly autoResponse: WebSocketRequestResponsePair | null;
  /** Queues an event for the instance (waking it if needed). */
  deliver(event: HostEvent): void;
  /** `deliver` of a hibernatable socket's message (run without an event record when it can start at once). */
  deliverMessage(end: SocketEnd, data: Message): void;
  /** A pin went away (its last `ws.accept()` socket closed): the idle timer may start. */
  unpinned(): void;
}

/** One hibernatable socket leaving with its object: the record, its TCP socket, and the bytes read but not parsed. */
export interface ExportedSocket {
  record: MovedSocket;
  socket: Socket;
  unparsed: Buffer;
}

/** What `exportSockets()` hands over. */
export interface ExportedSockets {
  /** The object's auto-response pair (it lives in the host, so it moves too). */
  autoResponse: WebSocketRequestResponsePair | null;
  sockets: ExportedSocket[];
  /** Open sockets that could not move and were closed with 1012. */
  closed: number;
}

/** Most objects never accept a socket the standard way: they share this empty set (never added to). */
const NO_SOCKETS: ReadonlySet<SocketEnd> = new Set();

/**
 * An object's sockets and the routing of their events into it: the
 * hibernatable ones (the registry with their tags, which survives
 * hibernation) and those accepted with `ws.accept()` that its fetch handed
 * out (they pin the object in memory). A message equal to the auto-response
 * request is answered here, so the object is never woken for a heartbeat.
 * Also the verbs by which sockets leave the object (moved, dropped, closed).
 */
export class HostSockets extends SocketRegistry {
  #standard = NO_SOCKETS as Set<SocketEnd>;

  constructor(readonly host: SocketsHost) {
    super();
  }

  /** Sockets accepted with `ws.accept()` that pin the object. */
  get standardCount(): number {
    return this.#standard.size;
  }

  /** Forgets `ws.accept()` sockets that reached CLOSED with no event: a half-open one (allowHalfOpen) whose Close the object answered. */
  pruneStandard(): void {
    for (const end of this.#standard) if (end.state === CLOSED) this.#dropStandard(end);
  }

  /** `ctx.acceptWebSocket`: registers an end as hibernatable. */
  acceptHibernatable(end: SocketEnd, tags: string[] | null): void {
    end.owner = this.host;
    end.tags = tags;
    end.markAccepted(HIBERNATABLE);
    this.add(end);
  }

  /** A standard-accepted socket returned by this object's fetch: its events go through the gate and it pins the object. */
  adoptStandard(end: SocketEnd): void {
    if (end.owner !== null || end.mode !== STANDARD) return;
    end.owner = this.host;
    if (this.#standard === NO_SOCKETS) this.#standard = new Set();
    this.#standard.add(end);
  }

  // ---- events in (SocketOwner, through the host) ----------------------------

  message(end: SocketEnd, data: Message): void {
    const host = this.host;
    if (end.mode === HIBERNATABLE) {
      const pair = host.autoResponse;
      if (pair !== null && data === pair.request) {
        // Answered here so the object is never woken for a heartbeat.
        end.autoResponseAt = host.runtime.options.clock.now();
        host.runtime.metrics.autoResponses++;
        end.transmit(pair.response);
        return;
      }
      host.deliverMessage(end, data);
    } else {
      host.deliver({ kind: "listener", end, dispatched: { type: "message", data } });
    }
  }

  close(end: SocketEnd, code: number, reason: string, wasClean: boolean): void {
    if (end.mode === HIBERNATABLE) {
      // As on workerd, the closing socket stays in getWebSockets() until its webSocketClose() has run.
      this.host.deliver({ kind: "webSocketClose", end, args: [code, reason, wasClean] });
    } else {
      this.host.deliver({ kind: "listener", end, dispatched: { type: "close", code, reason, wasClean } });
      if (end.state === CLOSED) {
        this.#dropStandard(end);
        if (this.#standard.size === 0) this.host.unpinned();
      }
    }
  }

  error(end: SocketEnd, error: unknown): void {
    if (end.mode === HIBERNATABLE) this.host.deliver({ kind: "webSocketError", end, args: [error] });
    else this.host.deliver({ kind: "listener", end, dispatched: { type: "error", error, message: error instanceof Error ? error.message : String(error) } });
  }

  #dropStandard(end: SocketEnd): void {
    this.#standard.delete(end);
    end.owner = null;
  }

  // ---- sockets leaving ------------------------------------------------------

  /** Closes every socket of the object, hibernatable and standard (a reset). */
  closeAll(code: number, reason: string): void {
    for (const end of [...this.list(), ...this.#standard]) end.close(code, reason);
  }

  /** Closes the open hibernatable sockets (shutdown: clients reconnect elsewhere). */
  closeOpen(code: number, reason: string): void {
    for (const end of this.list()) if (end.state === OPEN) end.close(code, reason);
  }

  /**
   * For a move out of the process: `ws.accept()` sockets are closed with 1012
   * (their state lives in the instance), and the open hibernatable ones are
   * taken out of the object, for `handOver`.
   */
  takeForMove(): SocketEnd[] {
    for (const end of [...this.#standard]) if (end.state === OPEN) end.close(1012, "Server restarting");
    const moving = this.list().filter((end) => end.state === OPEN);
    for (const end of moving) {
      this.delete(end);
      end.owner = null;
    }
    return moving;
  }

  /** Stops reading every hibernatable socket at the kernel (they are about to move). */
  pauseReading(): void {
    for (const end of this) end.pauseReading();
  }

  /** Takes the TCP socket of each end `takeForMove` returned: a record, the socket and its unparsed bytes; one that cannot move is closed with 1012. */
  async handOver(ends: SocketEnd[]): Promise<{ sockets: ExportedSocket[]; closed: number }> {
    const sockets: ExportedSocket[] = [];
    let closed = 0;
    for (const end of ends) {
      if (end.conn === null) continue;
      const detached = await end.detach(1012, "Server restarting");
      if (detached === null) closed++;
      else sockets.push({ record: end.toMoved(this.host.key), socket: detached.socket, unparsed: detached.unparsed });
    }
    return { sockets, closed };
  }

  /** A socket moved in: accepted as hibernatable with its record's state, and served here. */
  adopt(record: MovedSocket, socket: Socket, unparsed: Buffer): void {
    const end = SocketEnd.fromMoved(record);
    this.acceptHibernatable(end, record.tags);
    this.host.runtime.resumeSocket(socket, unparsed, end);
  }

  /** Drops the hibernatable sockets without a closing handshake (clients see 1006); no handler runs. */
  drop(): void {
    for (const end of this.list()) {
      this.delete(end);
      end.drop();
    }
  }

  /** Closes every socket from the runtime's side, detached first so no handler or listener runs (and nothing wakes). */
  closeDetached(code: number, reason: string): void {
    for (const end of [...this.list(), ...this.#standard]) {
      this.delete(end);
      this.#standard.delete(end);
      end.owner = null;
      end.listener = null;
      end.close(code, reason);
    }
  }
}
