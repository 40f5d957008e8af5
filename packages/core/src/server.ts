import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import { WebSocketServer, type WebSocket as WsConnection } from "ws";
import { toRequest, writeRawResponse, writeResponse } from "./node-http.ts";
import type { Logger } from "./logger.ts";
import { jsonError, webSocketOf } from "./response.ts";
import { endOf } from "./web-socket.ts";

/** Where to listen. */
export interface ListenOptions {
  /** Port; 0 picks a free one. Default 8787 (as `wrangler dev`). */
  port?: number;
  /** Interface; default 127.0.0.1. */
  host?: string;
}

/** A listening server. */
export interface RunningServer {
  readonly port: number;
  readonly host: string;
  readonly url: string;
  /** Stops accepting new connections (existing ones continue). */
  stopAccepting(): void;
  /** Waits for WebSocket closing handshakes (bounded), then drops what is left. */
  close(): Promise<void>;
}

/** What the server needs from the runtime. */
export interface ServerRuntime {
  readonly options: { readonly logger: Logger; readonly limits: { readonly maxMessageBytes: number } };
  fetch(request: Request): Promise<Response | globalThis.Response>;
}

/** How long shutdown waits for clients to answer the closing handshake. */
const CLOSE_GRACE_MS = 2_000;

/** Starts the HTTP + WebSocket server in front of a runtime. */
export async function startServer(runtime: ServerRuntime, options: ListenOptions): Promise<RunningServer> {
  const host = options.host ?? "127.0.0.1";
  const logger = runtime.options.logger;
  const connections = new Set<WsConnection>();
  let accepting = true;
  let protocolForUpgrade: string | false = false;

  const wss = new WebSocketServer({
    noServer: true,
    // Oversized messages close the socket with 1009, as on Cloudflare.
    maxPayload: runtime.options.limits.maxMessageBytes,
    perMessageDeflate: false,
    clientTracking: false,
    // The object picks the subprotocol through its 101 response's header.
    handleProtocols: () => protocolForUpgrade,
  });

  const fetchSafely = async (request: Request): Promise<Response | globalThis.Response> => {
    try {
      return await runtime.fetch(request);
    } catch (error) {
      logger.error("Uncaught error in the Worker's fetch()", { url: request.url, error });
      return jsonError(500, "ERR_INTERNAL", "Internal Server Error");
    }
  };

  const onRequest = async (req: IncomingMessage, res: ServerResponse) => {
    res.on("error", () => {});
    let response = await fetchSafely(toRequest(req, host));
    const ws = response.status === 101 ? webSocketOf(response) : null;
    if (response.status === 101) {
      // The object answered a plain request with an upgrade: nothing can connect.
      if (ws !== null) endOf(ws).peer?.abandon();
      response = jsonError(426, "ERR_UPGRADE_REQUIRED", "This endpoint accepts WebSocket connections only: send the request with `Upgrade: websocket`.", {
        upgrade: "websocket",
      });
    }
    try {
      await writeResponse(res, response);
    } catch (error) {
      logger.warn("Failed to write a response", { url: req.url, error });
      res.destroy();
    }
  };

  const onUpgrade = async (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on("error", () => {});
    if (!accepting) {
      socket.destroy();
      return;
    }
    if ((req.headers.upgrade ?? "").toLowerCase() !== "websocket") {
      await writeRawResponse(socket, new Response("Only WebSocket upgrades are supported", { status: 400 }));
      return;
    }
    const response = await fetchSafely(toRequest(req, host));
    const client = response.status === 101 ? webSocketOf(response) : null;
    if (client === null) {
      await writeRawResponse(socket, response);
      return;
    }
    const server = endOf(client).peer;
    if (server === null || socket.destroyed) {
      server?.abandon();
      socket.destroy();
      return;
    }
    protocolForUpgrade = response.headers.get("sec-websocket-protocol") ?? false;
    let upgraded = false;
    wss.handleUpgrade(req, socket, head, (conn) => {
      upgraded = true;
      connections.add(conn);
      conn.once("close", () => connections.delete(conn));
      server.protocol = conn.protocol;
      server.bind(conn);
    });
    protocolForUpgrade = false;
    // ws refuses bad handshakes (missing key, wrong version) itself, answering 400.
    if (!upgraded) server.abandon();
  };

  const http = createServer((req, res) => void onRequest(req, res));
  http.on("upgrade", (req, socket, head) => void onUpgrade(req, socket as Duplex, head as Buffer));
  http.on("clientError", (_error, socket) => socket.destroy());

  await new Promise<void>((resolve, reject) => {
    http.once("error", reject);
    http.listen(options.port ?? 8787, host, () => {
      http.off("error", reject);
      resolve();
    });
  });
  const port = (http.address() as AddressInfo).port;

  return {
    port,
    host,
    url: `http://${host.includes(":") ? `[${host}]` : host}:${port}`,
    stopAccepting() {
      accepting = false;
      http.close();
      http.closeIdleConnections();
    },
    async close() {
      accepting = false;
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
  };
}
