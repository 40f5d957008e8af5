import { workerdError } from "../errors.ts";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import type { Duplex } from "node:stream";
import { WebSocketServer, type WebSocket as WsConnection } from "ws";
import type { Clock } from "../clock.ts";
import { checkHandshake } from "./handshake.ts";
import { startHeartbeat } from "./heartbeat.ts";
import { clientErrorResponse, toRequest, writeRawResponse, writeResponse } from "./node-http.ts";
import { logsAt, type Logger } from "../logger.ts";
import { requestIdOf } from "./request-id.ts";
import type { ServerLimits } from "../options.ts";
import { jsonError, webSocketOf } from "./response.ts";
import { endOf } from "../websocket/web-socket.ts";
import type { SocketEnd } from "../websocket/socket-end.ts";
import { handoffOf } from "./upgrade-handoff.ts";
import { resumeConnection } from "../websocket/ws-transport.ts";

/** Where to listen. */
export interface ListenOptions {
  /** Port; 0 picks a free one. Default 8787 (as `wrangler dev`). Null: no listener, connections come through `acceptConnection` (cluster workers). */
  port?: number | null;
  /** Interface; default 127.0.0.1. */
  host?: string;
  /**
   * Development (`torpor dev`): the 500 for an uncaught error in the Worker's
   * `fetch` carries the error's stack as plain text, its first line
   * `TypeError: message`, as `wrangler dev` shows it. Otherwise the body is
   * Torpor's JSON error, which tells a client nothing about the code.
   */
  errorDetails?: boolean;
}

/** A listening server. */
export interface RunningServer {
  readonly port: number;
  readonly host: string;
  readonly url: string;
  /** Stops accepting new connections (existing ones continue; keep-alive connections close once idle). */
  stopAccepting(): void;
  /** Resolves once no HTTP request or upgrade is being handled (a draining cluster worker waits for this). */
  idle(): Promise<void>;
  /** Waits for WebSocket closing handshakes (bounded), then drops what is left. */
  close(): Promise<void>;
  /** Serves a connection accepted elsewhere (a cluster supervisor passed it to this process). */
  acceptConnection(socket: Socket): void;
  /** Answers the handshake of an upgrade whose object accepted it here while another process read the request. */
  completeUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, server: SocketEnd, protocol: string | false): void;
  /** Wires an already-open WebSocket's socket (moved from another process) to `end`; `unparsed` is read before the socket. */
  resume(socket: Socket, unparsed: Buffer, end: SocketEnd): void;
}

/** What the server needs from the runtime. */
export interface ServerRuntime {
  readonly options: {
    readonly logger: Logger;
    readonly clock: Clock;
    readonly limits: { readonly maxMessageBytes: number };
    readonly server: ServerLimits;
  };
  fetch(request: Request): Promise<Response | globalThis.Response>;
}

/** How long shutdown waits for clients to answer the closing handshake. */
const CLOSE_GRACE_MS = 2_000;

/** Starts the HTTP + WebSocket server in front of a runtime. */
export async function startServer(runtime: ServerRuntime, options: ListenOptions): Promise<RunningServer> {
  const host = options.host ?? "127.0.0.1";
  const logger = runtime.options.logger;
  const limits = runtime.options.server;
  const connections = new Set<WsConnection>();
  let accepting = true;
  let protocolForUpgrade: string | false = false;
  /** TCP connections open now, and those beyond `maxConnections` (answered 503 once their request is read). */
  let openSockets = 0;
  const overCapacity = new WeakSet<Duplex>();
  /** Requests and upgrades being handled now, and who waits for there to be none. */
  let inFlight = 0;
  let idleWaiters: Array<() => void> = [];
  const begin = () => {
    inFlight++;
  };
  const done = () => {
    if (--inFlight > 0) return;
    // Draining: a keep-alive connection whose last response went out closes now.
    if (!accepting) http.closeIdleConnections();
    for (const resolve of idleWaiters.splice(0)) resolve();
  };

  const wss = new WebSocketServer({
    noServer: true,
    // Oversized messages close the socket with 1009, as on Cloudflare.
    maxPayload: runtime.options.limits.maxMessageBytes,
    perMessageDeflate: false,
    clientTracking: false,
    // ws 8.23 option, not yet in @types/ws: how long a closing handshake may take.
    ...({ closeTimeout: limits.closeTimeoutMs } as object),
    // The object picks the subprotocol through its 101 response's header.
    handleProtocols: () => protocolForUpgrade,
  });
  const heartbeat = limits.pingIntervalMs > 0 ? startHeartbeat(connections, runtime.options.clock, limits.pingIntervalMs) : null;

  /** The 500 for an uncaught error (see `errorDetails`). */
  const internalError = (error: unknown): Response => {
    if (options.errorDetails !== true) return jsonError(500, "ERR_INTERNAL", "Internal Server Error");
    const text = error instanceof Error ? (error.stack ?? `${error.name}: ${error.message}`) : `Uncaught ${String(error)}`;
    return new Response(text, { status: 500, headers: { "content-type": "text/plain; charset=UTF-8" } });
  };

  /** Runs the Worker; a throw is logged (unless `expected` says the server caused it) and becomes a 500. */
  const fetchSafely = async (req: IncomingMessage, request: Request, expected?: () => boolean): Promise<Response | globalThis.Response> => {
    try {
      return await runtime.fetch(request);
    } catch (error) {
      if (expected?.() !== true) logger.error("Uncaught error in the Worker's fetch()", { requestId: requestIdOf(req), url: request.url, error });
      return internalError(error);
    }
  };

  const send = async (res: ServerResponse, response: globalThis.Response, url: string | undefined) => {
    try {
      await writeResponse(res, response);
    } catch (error) {
      logger.warn("Failed to write a response", { requestId: requestIdOf(res.req), url, error });
      res.destroy();
    }
  };

  /** At debug level, one line per answered request (its id, method, path, status and time taken). */
  const logRequest = (req: IncomingMessage, res: ServerResponse, started: number) => {
    res.once("finish", () => {
      logger.debug("Request", {
        requestId: requestIdOf(req),
        method: req.method,
        url: req.url,
        status: res.statusCode,
        durationMs: Math.round((performance.now() - started) * 1000) / 1000,
      });
    });
  };

  const onRequest = async (req: IncomingMessage, res: ServerResponse) => {
    res.on("error", () => {});
    if (logsAt(logger, "debug")) logRequest(req, res, performance.now());
    if (overCapacity.has(req.socket)) return send(res, tooManyConnections(limits.maxConnections), req.url);
    const declared = Number(req.headers["content-length"] ?? 0);
    if (declared > limits.maxRequestBodyBytes) return send(res, bodyTooLarge(limits.maxRequestBodyBytes), req.url);
    let bodyRefused = false;
    let request: Request;
    try {
      request = toRequest(req, host, {
        maxBytes: limits.maxRequestBodyBytes,
        exceeded() {
          // Answered now, while the client is still sending; the Worker's read of the body then fails.
          bodyRefused = true;
          if (res.headersSent) return Promise.resolve();
          return new Promise<void>((resolve) => {
            res.once("finish", resolve);
            res.once("close", resolve);
            void send(res, bodyTooLarge(limits.maxRequestBodyBytes), req.url);
          });
        },
      });
    } catch {
      return send(res, badRequest(req), req.url);
    }
    let response = await fetchSafely(req, request, () => bodyRefused);
    if (bodyRefused) {
      await response.body?.cancel();
      return;
    }
    const ws = response.status === 101 ? webSocketOf(response) : null;
    if (response.status === 101) {
      // The object answered a plain request with an upgrade: nothing can connect. workerd
      // fails the request with this TypeError (a 500); the error goes to the logger.
      if (ws !== null) {
        const handoff = handoffOf(ws);
        if (handoff !== undefined) handoff.abandon();
        else endOf(ws).peer?.abandon();
      }
      const error = workerdError(
        TypeError,
        "ERR_UPGRADE_REQUIRED",
        'Worker tried to return a WebSocket in a response to a request which did not contain the header "Upgrade: websocket".',
      );
      logger.error("Uncaught error in the Worker's fetch()", { requestId: requestIdOf(req), url: req.url, error });
      response = internalError(error);
    }
    await send(res, response, req.url);
  };

  const onUpgrade = async (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on("error", () => {});
    if (!accepting) {
      socket.destroy();
      return;
    }
    if (overCapacity.has(socket)) {
      await writeRawResponse(socket, tooManyConnections(limits.maxConnections));
      return;
    }
    if ((req.headers.upgrade ?? "").toLowerCase() !== "websocket") {
      await writeRawResponse(socket, new Response("Only WebSocket upgrades are supported", { status: 400 }));
      return;
    }
    // Refused here, before the Worker and the object run, rather than by ws after the object accepted a socket.
    const problem = checkHandshake(req);
    if (problem !== null) {
      await writeRawResponse(socket, jsonError(problem.status, "ERR_BAD_HANDSHAKE", problem.message, problem.headers));
      return;
    }
    let request: Request;
    try {
      request = toRequest(req, host);
    } catch {
      await writeRawResponse(socket, badRequest(req));
      return;
    }
    const response = await fetchSafely(req, request);
    const client = response.status === 101 ? webSocketOf(response) : null;
    if (client === null) {
      await writeRawResponse(socket, response);
      return;
    }
    const handoff = handoffOf(client);
    if (handoff !== undefined) {
      if (socket.destroyed) {
        handoff.abandon();
        return;
      }
      // The socket leaves this process (it never closes here): it no longer counts against this server's limit.
      socket.off("close", onSocketClose);
      openSockets--;
      handoff.handOff(req, socket, head);
      return;
    }
    const server = endOf(client).peer;
    if (server === null || socket.destroyed) {
      server?.abandon();
      socket.destroy();
      return;
    }
    upgrade(req, socket, head, server, response.headers.get("sec-websocket-protocol") ?? false);
  };

  const track = (conn: WsConnection) => {
    connections.add(conn);
    conn.once("close", () => connections.delete(conn));
    heartbeat?.watch(conn);
  };

  const upgrade = (req: IncomingMessage, socket: Duplex, head: Buffer, server: SocketEnd, protocol: string | false) => {
    protocolForUpgrade = protocol;
    let upgraded = false;
    wss.handleUpgrade(req, socket, head, (conn) => {
      upgraded = true;
      track(conn);
      server.protocol = conn.protocol;
      server.bind(conn, limits.maxBufferedBytes);
    });
    protocolForUpgrade = false;
    // Checked above; kept for anything ws refuses that checkHandshake does not know.
    if (!upgraded) server.abandon();
  };

  const http = createServer(
    {
      maxHeaderSize: limits.maxHeaderBytes,
      headersTimeout: limits.headersTimeoutMs,
      // Node's default (300 s) unless the header timeout is longer; it must not be shorter.
      requestTimeout: Math.max(300_000, limits.headersTimeoutMs),
      // Node checks the timeouts on this interval (default 30 s, which made a 60 s limit fire at up to 90 s).
      connectionsCheckingInterval: Math.min(5_000, Math.max(10, Math.floor(limits.headersTimeoutMs / 4))),
    },
    (req, res) => {
      begin();
      void onRequest(req, res).finally(done);
    },
  );
  http.on("upgrade", (req, socket, head) => {
    begin();
    void onUpgrade(req, socket as Duplex, head as Buffer).finally(done);
  });
  const onSocketClose = () => openSockets--;
  /** A connection this process holds from now on (accepted here, or handed over by another process). */
  const countSocket = (socket: Duplex) => {
    openSockets++;
    socket.once("close", onSocketClose);
  };
  http.on("connection", (socket: Socket) => {
    if (++openSockets > limits.maxConnections) overCapacity.add(socket);
    socket.once("close", onSocketClose);
  });
  // Node's own handler answers 400/431/408 too; replacing it (to not log) must keep the status line.
  http.on("clientError", (error: NodeJS.ErrnoException, socket: Duplex) => {
    const response = clientErrorResponse(error, socket);
    if (response === null) socket.destroy();
    else socket.end(response, () => socket.destroy());
  });

  if (options.port !== null) {
    await new Promise<void>((resolve, reject) => {
      http.once("error", reject);
      http.listen(options.port ?? 8787, host, () => {
        http.off("error", reject);
        resolve();
      });
    });
  } else {
    // Node checks headersTimeout/requestTimeout from a timer it starts on 'listening' (_http_server.js,
    // setupConnectionsTracking); a server fed connections by another process never listens, so start it here,
    // or a client trickling its headers (slowloris) is never cut off in a cluster worker.
    http.emit("listening");
  }
  const port = options.port === null ? 0 : (http.address() as AddressInfo).port;

  return {
    port,
    host,
    url: `http://${host.includes(":") ? `[${host}]` : host}:${port}`,
    stopAccepting() {
      accepting = false;
      http.close();
      http.closeIdleConnections();
    },
    idle() {
      if (inFlight === 0) return Promise.resolve();
      return new Promise((resolve) => idleWaiters.push(resolve));
    },
    async close() {
      accepting = false;
      heartbeat?.stop();
      http.close();
      if (connections.size > 0) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, CLOSE_GRACE_MS);
          timer.unref();
          const check = () => {
            if (connections.size === 0) {
              clearTimeout(timer);
              resolve();
            }
          };
          for (const conn of connections) conn.once("close", check);
          check();
        });
      }
      for (const conn of connections) conn.terminate();
      http.closeAllConnections();
    },
    acceptConnection(socket) {
      if (!accepting) {
        socket.destroy();
        return;
      }
      http.emit("connection", socket);
    },
    completeUpgrade(req, socket, head, server, protocol) {
      socket.on("error", () => {});
      if (!accepting || socket.destroyed) {
        server.abandon();
        socket.destroy();
        return;
      }
      // Another process read the request; the connection is this one's from now on, and counts here.
      countSocket(socket);
      upgrade(req, socket, head, server, protocol);
    },
    resume(socket, unparsed, end) {
      const conn = resumeConnection(wss, socket, unparsed);
      countSocket(socket);
      track(conn);
      end.bind(conn, limits.maxBufferedBytes);
    },
  };
}

function tooManyConnections(max: number): Response {
  return jsonError(503, "ERR_TOO_MANY_CONNECTIONS", `The server holds its maximum of ${max} connections; try again later.`, {
    "retry-after": "5",
    connection: "close",
  });
}

function bodyTooLarge(max: number): Response {
  return jsonError(413, "ERR_REQUEST_BODY_TOO_LARGE", `The request body is over the server's limit of ${max} bytes.`, { connection: "close" });
}

function badRequest(req: IncomingMessage): Response {
  return jsonError(
    400,
    "ERR_BAD_REQUEST",
    `The request target or Host header is not a valid URL: ${JSON.stringify(`${req.headers.host ?? ""} ${req.url ?? ""}`)}.`,
    { connection: "close" },
  );
}
