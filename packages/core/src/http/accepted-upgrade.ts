import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import type { SocketEnd } from "../websocket/socket-end.ts";
import { endOf } from "../websocket/web-socket.ts";
import { webSocketOf } from "./response.ts";
import type { RunningServer } from "./server.ts";

/**
 * A WebSocket upgrade that an object in this process accepted for a request
 * another process read (the other side of `UpgradeHandoff`): held until that
 * process sends the client's socket (`complete`) or gives up (`abandon`).
 * The cluster worker keeps these without seeing the object's socket record.
 */
export interface AcceptedUpgrade {
  /** The subprotocol the object's response selected, or false. */
  readonly protocol: string | false;
  /** Whether the object of `owner` (an object host) accepted it. */
  acceptedBy(owner: object): boolean;
  /** Answers the handshake on the client's socket: the WebSocket opens here. */
  complete(server: RunningServer, req: IncomingMessage, socket: Duplex, head: Buffer): void;
  /** The client's socket will not come: the object's end closes with 1006. */
  abandon(): void;
}

/** The upgrade a 101 response from an object in this process stands for, or null for any other response. */
export function acceptedUpgrade(response: Response): AcceptedUpgrade | null {
  if (response.status !== 101) return null;
  const client = webSocketOf(response);
  const server = client === null ? null : endOf(client).peer;
  return server === null ? null : new Accepted(server, response.headers.get("sec-websocket-protocol") ?? false);
}

class Accepted implements AcceptedUpgrade {
  readonly #end: SocketEnd;

  constructor(
    end: SocketEnd,
    readonly protocol: string | false,
  ) {
    this.#end = end;
  }

  acceptedBy(owner: object): boolean {
    return (this.#end.owner as unknown) === owner;
  }

  complete(server: RunningServer, req: IncomingMessage, socket: Duplex, head: Buffer): void {
    server.completeUpgrade(req, socket, head, this.#end, this.protocol);
  }

  abandon(): void {
    this.#end.abandon();
  }
}
