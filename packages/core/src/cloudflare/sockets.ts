/**
 * What `import { connect } from "cloudflare:sockets"` gives Worker code under
 * Torpor: outbound TCP (and TLS) sockets with Cloudflare's shape (web
 * streams `readable`/`writable`, `opened`, `closed`, `close()`,
 * and `startTls()`, which throws), over `node:net` and `node:tls`.
 */
import { connect as netConnect, type Socket as NetSocket } from "node:net";
import { Duplex } from "node:stream";
import { connect as tlsConnect } from "node:tls";
import { TorporError } from "../errors.ts";
import { currentIncarnation } from "../object/incarnation.ts";
import { tieToRunningOwner } from "../owner-context.ts";
import { GatedConnection } from "./gated-connection.ts";

/** Where to connect: `{ hostname, port }` or "host:port". */
export interface SocketAddress {
  hostname: string;
  port: number;
}

export interface SocketOptions {
  /** "off" (plain TCP, the default) or "on" (TLS from the start); "starttls" connects in plain TCP, but `startTls()` is not supported. */
  secureTransport?: "off" | "on" | "starttls";
  /** Keep the writable side open after the peer ended its side (plain TCP only). */
  allowHalfOpen?: boolean;
}

export interface SocketInfo {
  remoteAddress?: string;
  localAddress?: string;
}

/**
 * Opens a TCP connection, as Cloudflare's `connect()`. From Durable Object
 * code, as on workerd, the connection starts once the object's writes so far
 * are durable, each write leaves once the writes before it are, and the
 * socket is dropped if the instance is reset (gated-connection.ts).
 */
export function connect(address: SocketAddress | string, options: SocketOptions = {}): Socket {
  const { hostname, port } = parseAddress(address);
  const secure = options.secureTransport ?? "off";
  const allowHalfOpen = options.allowHalfOpen === true;
  const openEvent = secure === "on" ? "secureConnect" : "connect";
  // allowHalfOpen applies to plain TCP only (node:tls takes no such option).
  const open = (): NetSocket =>
    secure === "on" ? tlsConnect({ host: hostname, port, servername: hostname }) : netConnect({ host: hostname, port, allowHalfOpen });
  const incarnation = currentIncarnation();
  if (incarnation === undefined) return new Socket(open(), secure, openEvent);
  const gated = new GatedConnection(incarnation, open, openEvent, secure === "on" ? false : allowHalfOpen);
  tieToRunningOwner({ drop: () => gated.destroy(), isOpen: () => !gated.destroyed });
  return new Socket(gated as unknown as NetSocket, secure, openEvent);
}

/** An open (or opening) outbound socket. */
export class Socket {
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array>;
  /** Resolves once connected (with the addresses), rejects if the connection fails. */
  readonly opened: Promise<SocketInfo>;
  /** Resolves when the socket closed cleanly, rejects with the error that closed it. */
  readonly closed: Promise<void>;
  readonly secureTransport: "off" | "on" | "starttls";
  readonly upgraded = false;
  readonly #raw: NetSocket;

  /** @internal use `connect()`. */
  constructor(raw: NetSocket, secureTransport: "off" | "on" | "starttls", openEvent: "connect" | "secureConnect") {
    this.#raw = raw;
    this.secureTransport = secureTransport;
    const web = Duplex.toWeb(raw);
    this.readable = web.readable as ReadableStream<Uint8Array>;
    this.writable = web.writable as WritableStream<Uint8Array>;
    this.opened = new Promise((resolve, reject) => {
      raw.once(openEvent, () => resolve({ remoteAddress: `${raw.remoteAddress}:${raw.remotePort}`, localAddress: `${raw.localAddress}:${raw.localPort}` }));
      raw.once("error", reject);
    });
    this.closed = new Promise((resolve, reject) => {
      let failure: Error | null = null;
      raw.once("error", (error) => (failure = error));
      raw.once("close", () => (failure === null ? resolve() : reject(failure)));
    });
    // Whoever awaits only one of them must not see the other as an unhandled rejection.
    this.opened.catch(() => {});
    this.closed.catch(() => {});
  }

  /** Closes both directions at once; resolves when closed. */
  close(): Promise<void> {
    this.#raw.destroy();
    return this.closed.catch(() => {});
  }

  /** Not supported: STARTTLS upgrades are not implemented; open the socket with `secureTransport: "on"` instead. */
  startTls(): Socket {
    throw new TorporError(
      "ERR_NOT_SUPPORTED",
      'startTls() is not supported by Torpor. Open the socket with secureTransport: "on" (TLS from the start) instead.',
    );
  }
}

function parseAddress(address: SocketAddress | string): SocketAddress {
  if (typeof address !== "string") return address;
  const colon = address.lastIndexOf(":");
  const port = Number(address.slice(colon + 1));
  if (colon <= 0 || !Number.isInteger(port) || port <= 0 || port > 65_535) {
    throw new TypeError(`Invalid socket address "${address}": expected "host:port".`);
  }
  return { hostname: address.slice(0, colon).replace(/^\[(.*)\]$/, "$1"), port };
}
