/**
 * A node's peer endpoint, served by its supervisor: other nodes forward stub
 * calls (`POST /_torpor/call`, bodies in the structured clone format) and
 * splice WebSocket upgrades (`GET /_torpor/upgrade`, then raw bytes) to the
 * objects this node holds. A call for a slot this node does not hold (any
 * more) is answered 421 with the owner it knows, and nothing runs; the caller
 * retries there. Calls go to the owning worker through the supervisor, like
 * calls between this node's own workers (a fetch's bodies travel whole
 * between nodes); an upgrade's socket goes to the worker process holding the
 * accepted WebSocket, which answers the handshake itself. Nothing is answered
 * once the node's lease deadline passed.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { deserialize, serialize } from "node:v8";
import { slotOf } from "@torpor/core/slots";
import type { Logger } from "@torpor/core";
import type { PeerCall, PeerRedirect, PeerReply } from "./peer-client.ts";
import type { NodeTable } from "./node-membership.ts";
import type { ToWorker } from "./ipc.ts";
import { takeSocket } from "./sockets.ts";
import { encodeError } from "./wire.ts";

/** What the peer server needs from the supervisor. */
export interface PeerHost {
  table(): NodeTable;
  /** False once the node's deadline passed (nothing may be answered). */
  valid(): boolean;
  /** Routes a forwarded call to the process owning its object (the supervisor's routing); resolves with its reply. */
  call(call: PeerCall): Promise<PeerReply>;
  /** Hands a spliced upgrade's socket to process `owner` (a serial), which holds the accepted WebSocket. */
  upgrade(owner: number, message: Extract<ToWorker, { t: "upgrade" }>, socket: Socket): void;
  /** The caller's Worker did not take the WebSocket: process `owner` drops it. */
  abandon(owner: number, token: number): void;
  logger: Logger;
}

export class PeerServer {
  readonly #host: PeerHost;
  readonly #server: Server;
  address = "";

  constructor(host: PeerHost) {
    this.#host = host;
    this.#server = createServer({ keepAliveTimeout: 60_000 }, (req, res) => void this.#request(req, res));
    this.#server.on("upgrade", (req: IncomingMessage, socket: Socket, head: Buffer) => this.#upgrade(req, socket, head));
    this.#server.on("clientError", (_error, socket) => socket.destroy());
  }

  /** Listens on `ip:port` (0: any free port); returns `host:port`. */
  async listen(port: number, ip: string): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once("error", reject);
      this.#server.listen(port, ip, () => {
        this.#server.off("error", reject);
        resolve();
      });
    });
    const bound = (this.#server.address() as { port: number }).port;
    this.address = `${ip.includes(":") ? `[${ip}]` : ip}:${bound}`;
    return this.address;
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections?.();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  async #request(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://peer");
    if (req.method === "POST" && url.pathname === "/_torpor/abandon") {
      req.resume();
      const owner = Number(url.searchParams.get("owner"));
      if (Number.isInteger(owner) && owner > 0) this.#host.abandon(owner, Number(url.searchParams.get("token")));
      res.writeHead(204).end();
      return;
    }
    if (req.method !== "POST" || url.pathname !== "/_torpor/call") {
      req.resume();
      res.writeHead(404).end();
      return;
    }
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    let call: PeerCall;
    try {
      call = deserialize(Buffer.concat(chunks)) as PeerCall;
    } catch {
      res.writeHead(400).end();
      return;
    }
    const slot = slotOf(call.key.id);
    const table = this.#host.table();
    const worker = table.slots[slot] ?? -1;
    if (worker < 0 || !this.#host.valid()) {
      // Not ours (or no longer allowed to answer): nothing ran; the caller retries where we think the slot is.
      const remote = table.remote[slot] ?? null;
      const redirect: PeerRedirect = { owner: remote?.node ?? null, address: remote?.address ?? null };
      res.writeHead(421, { "content-type": "application/json" }).end(JSON.stringify(redirect));
      return;
    }
    const reply = await this.#host.call(call);
    if (!this.#host.valid()) {
      // Past the deadline: the answer must not leave this node.
      res.destroy();
      return;
    }
    if (!reply.ok && reply.error.code === "ERR_OBJECT_NOT_LOCAL") {
      const remote = this.#host.table().remote[slot] ?? null;
      res.writeHead(421, { "content-type": "application/json" }).end(JSON.stringify({ owner: remote?.node ?? null, address: remote?.address ?? null }));
      return;
    }
    const body = encodeReply(reply);
    res.writeHead(200, { "content-type": "application/x-torpor-v8", "content-length": body.length }).end(body);
  }

  #upgrade(req: IncomingMessage, socket: Socket, head: Buffer): void {
    socket.on("error", () => {});
    const url = new URL(req.url ?? "/", "http://peer");
    const original = req.headers["x-torpor-request"];
    const owner = Number(url.searchParams.get("owner"));
    if (url.pathname !== "/_torpor/upgrade" || typeof original !== "string" || !Number.isInteger(owner) || owner <= 0 || !this.#host.valid()) {
      socket.destroy();
      return;
    }
    let client: { method: string; url: string; headers: Record<string, string | string[] | undefined> };
    try {
      client = JSON.parse(Buffer.from(original, "base64").toString());
    } catch {
      socket.destroy();
      return;
    }
    // Bytes that arrived after the head travel with it; the owning worker answers the client's handshake on this
    // socket and holds it from now on.
    const more = takeSocket(socket);
    this.#host.upgrade(
      owner,
      { t: "upgrade", token: Number(url.searchParams.get("token")), req: client, head: more.length > 0 ? Buffer.concat([head, more]) : head },
      socket,
    );
  }
}

function encodeReply(reply: PeerReply): Buffer {
  try {
    return serialize(reply);
  } catch (error) {
    return serialize({ ok: false, error: encodeError(error) } satisfies PeerReply);
  }
}
