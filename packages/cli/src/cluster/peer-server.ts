/**
 * A node's peer endpoint, served by its supervisor: other nodes forward stub
 * calls (`POST /_torpor/call`, bodies in the structured clone format) and
 * splice WebSocket upgrades (`GET /_torpor/upgrade`, then raw bytes) to the
 * objects this node holds. A call for a slot this node does not hold (any
 * more) is answered 421 with the owner it knows, and nothing runs; the caller
 * retries there. Calls go to the owning worker over IPC, like calls between
 * this node's own workers; an upgrade's socket goes to that worker, which
 * answers the handshake itself. Nothing is answered once the node's lease
 * deadline passed.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { deserialize, serialize } from "node:v8";
import { slotOf } from "@torpor/core/cluster";
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
  /** Delivers a message to the process serving worker `index` (held while it restarts). */
  deliver(index: number, message: ToWorker, handle?: Socket): void;
  logger: Logger;
}

/** The worker index a forwarded call's reply is addressed to. */
export const PEER = -2;

export class PeerServer {
  readonly #host: PeerHost;
  readonly #server: Server;
  readonly #pending = new Map<number, (reply: PeerReply) => void>();
  #nextRid = 1;
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

  /** A worker's reply to a forwarded call. */
  settle(rid: number, reply: PeerReply): void {
    const done = this.#pending.get(rid);
    if (done === undefined) return;
    this.#pending.delete(rid);
    done(reply);
  }

  /** The worker serving a forwarded call exited: its calls fail (they may or may not have run). */
  failAll(error: PeerReply): void {
    for (const done of this.#pending.values()) done(error);
    this.#pending.clear();
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
      if (Number.isInteger(owner) && owner >= 0) this.#host.deliver(owner, { t: "abandon", token: Number(url.searchParams.get("token")) });
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
    const rid = this.#nextRid++;
    const reply = await new Promise<PeerReply>((resolve) => {
      this.#pending.set(rid, resolve);
      this.#host.deliver(worker, { t: "call", rid, from: PEER, key: call.key, ...call.op });
    });
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
    if (url.pathname !== "/_torpor/upgrade" || typeof original !== "string" || !Number.isInteger(owner) || owner < 0 || !this.#host.valid()) {
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
    this.#host.deliver(
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
