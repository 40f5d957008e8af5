/**
 * Calls to objects another node holds, from a worker: over HTTP keep-alive
 * connections to the owner node's peer endpoint (bodies in the structured
 * clone format, `node:v8`), and WebSocket upgrades spliced to it.
 *
 * - A node that does not hold the slot (anymore) answers 421 with the owner
 *   it knows; the call is retried there, a bounded number of times. Nothing
 *   ran, so retrying is safe.
 * - A call never waits past the owner's lease as last seen (the table is
 *   refreshed after every renewal, which moves it): past it the owner may be
 *   dead or fenced, so the call fails with ERR_OBJECT_OWNER_EXITED (it may or
 *   may not have run) and the next call re-resolves.
 * - An upgrade the owner accepted is spliced: this node opens a connection
 *   to the owner's peer endpoint, sends the client's request head (and the
 *   bytes it read past it) and then copies bytes both ways. The owner answers
 *   the handshake and holds the hibernatable socket; frames are not parsed here.
 */
import { Agent, request as httpRequest } from "node:http";
import { connect, type Socket } from "node:net";
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { deserialize, serialize } from "node:v8";
import { TorporError } from "@torpor/core/errors";
import type { ObjectKey } from "@torpor/core/storage";
import { monotonicNow } from "@torpor/postgres/clock";
import type { CallOp } from "./ipc.ts";
import type { NodeTable } from "./node-membership.ts";
import { restartReading, takeSocket } from "./sockets.ts";
import { decodeError, type WireError, type WireResponse } from "./wire.ts";

/**
 * A call's body on the wire. A fetch's request body travels whole beside it
 * (`body`; within a node bodies stream between processes, across nodes they
 * are buffered, bounded by the server's request body limit).
 */
export interface PeerCall {
  key: ObjectKey;
  op: CallOp;
  body?: Uint8Array | null;
}

/** A reply's body on the wire: a value, or an error; a fetch's response (its body whole in `body`) may name a WebSocket the owner holds. */
export type PeerReply = { ok: true; value: unknown; body?: Uint8Array | null } | { ok: false; error: WireError };

/** A 421 body: the answering node does not hold the slot; this is who it thinks does. */
export interface PeerRedirect {
  owner: string | null;
  address: string | null;
}

/** Where an upgraded WebSocket lives on another node. */
export interface RemoteUpgrade {
  address: string;
  owner: number;
  token: number;
}

const MAX_REDIRECTS = 3;
/** How long a call waits for some node to hold a slot nobody holds (a hand-over, a failover in progress). */
const OWNER_WAIT_MS = 5_000;

export class PeerClient {
  readonly #agent = new Agent({ keepAlive: true, maxSockets: 256 });
  readonly #table: () => NodeTable;

  constructor(table: () => NodeTable) {
    this.#table = table;
  }

  /** Runs `op` on the owner node of `key`; for a fetch answered with a WebSocket, `upgrade` says where it is held. */
  async call(
    key: ObjectKey,
    slot: number,
    op: CallOp,
    body: Uint8Array | null = null,
  ): Promise<{ value: unknown; body: Uint8Array | null; upgrade?: RemoteUpgrade }> {
    let target = live(this.#table().remote[slot] ?? null);
    for (let attempt = 0; ; attempt++) {
      // Nobody holds the slot this instant (being handed over, or its owner's lease ran out): wait for the next table.
      if (target === null) target = await this.#owner(slot);
      if (target === null) {
        throw new TorporError(
          "ERR_OBJECT_UNAVAILABLE",
          `No live node holds slot ${slot} of ${key.namespace}/${key.name ?? key.id} right now (its owner failed and no other node has taken it yet); retry shortly.`,
        );
      }
      const result = await this.#post(target.address, slot, { key, op, body });
      if (result.status === 421) {
        const redirect = result.body as PeerRedirect;
        if (attempt >= MAX_REDIRECTS) {
          throw new TorporError(
            "ERR_OBJECT_UNAVAILABLE",
            `The owner of ${key.namespace}/${key.name ?? key.id} moved ${attempt + 1} times during the call; retry.`,
          );
        }
        // The answering node's view first (it is fresher when it just lost the slot), then ours.
        const ours = live(this.#table().remote[slot] ?? null);
        target =
          redirect.address !== null && redirect.address !== target.address
            ? { node: redirect.owner ?? "", address: redirect.address, expiresAt: Infinity }
            : ours;
        continue;
      }
      const reply = result.body as PeerReply;
      if (!reply.ok) throw decodeError(reply.error);
      const wire = reply.value as WireResponse | undefined;
      const received = reply.body ?? null;
      if (op.op === "fetch" && wire?.upgrade !== undefined) return { value: wire, body: received, upgrade: { address: target.address, ...wire.upgrade } };
      return { value: reply.value, body: received };
    }
  }

  /** The node holding `slot` once a table names one, waiting at most OWNER_WAIT_MS. */
  async #owner(slot: number): Promise<NodeTable["remote"][number]> {
    const until = monotonicNow() + OWNER_WAIT_MS;
    for (;;) {
      const table = this.#table();
      const remote = live(table.remote[slot] ?? null);
      if (remote !== null || (table.slots[slot] ?? -1) >= 0 || monotonicNow() >= until) return remote;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** POSTs a call; resolves with the status and decoded body; never waits past the owner's lease as the table says. */
  #post(address: string, slot: number, call: PeerCall): Promise<{ status: number; body: unknown }> {
    const [host, port] = splitAddress(address);
    const payload = serialize(call);
    return new Promise((resolve, reject) => {
      const req = httpRequest({
        host,
        port,
        method: "POST",
        path: "/_torpor/call",
        agent: this.#agent,
        headers: { "content-type": "application/x-torpor-v8", "content-length": payload.length },
      });
      let watchdog: NodeJS.Timeout | null = null;
      const arm = () => {
        const remote = this.#table().remote[slot];
        const left = remote === null || remote === undefined || remote.address !== address ? 0 : remote.expiresAt - monotonicNow();
        watchdog = setTimeout(
          () => {
            const now = this.#table().remote[slot];
            // The table moved the owner's lease on (it renewed): keep waiting until the new end.
            if (now !== null && now !== undefined && now.address === address && now.expiresAt > monotonicNow()) return arm();
            req.destroy(
              new TorporError(
                "ERR_OBJECT_OWNER_EXITED",
                `The node holding ${call.key.namespace}/${call.key.name ?? call.key.id} (${address}) stopped renewing its lease during the call; the call may or may not have run. Retry if it is safe to repeat.`,
              ),
            );
          },
          Math.max(left, 0),
        );
      };
      arm();
      const done = () => {
        if (watchdog !== null) clearTimeout(watchdog);
      };
      req.on("error", (error) => {
        done();
        const code = (error as NodeJS.ErrnoException).code;
        // Refused or unroutable: the call never left this node.
        const unsent = code === "ECONNREFUSED" || code === "EHOSTUNREACH" || code === "ENETUNREACH" || code === "EINVAL";
        reject(
          error instanceof TorporError
            ? error
            : unsent
              ? new TorporError(
                  "ERR_OBJECT_UNAVAILABLE",
                  `The node at ${address} holding this object cannot be reached (${code}); the call did not run. Retry shortly.`,
                  {
                    cause: error,
                  },
                )
              : new TorporError(
                  "ERR_OBJECT_OWNER_EXITED",
                  `Forwarding to the node at ${address} failed (${error.message}); the call may or may not have run.`,
                  {
                    cause: error,
                  },
                ),
        );
      });
      req.on("response", (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("error", (error) => {
          done();
          reject(error);
        });
        res.on("end", () => {
          done();
          const body = Buffer.concat(chunks);
          try {
            resolve({ status: res.statusCode ?? 0, body: res.statusCode === 421 ? JSON.parse(body.toString()) : deserialize(body) });
          } catch (error) {
            reject(
              new TorporError("ERR_OBJECT_UNAVAILABLE", `The node at ${address} answered ${res.statusCode} with a body that is not a Torpor reply.`, {
                cause: error,
              }),
            );
          }
        });
      });
      req.end(payload);
    });
  }

  /**
   * Splices a client's upgrade to the owner node: the request head (and bytes
   * read past it) go first, then everything is copied both ways.
   */
  spliceUpgrade(upgrade: RemoteUpgrade, req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const client = socket as Socket;
    const more = takeSocket(client);
    const [host, port] = splitAddress(upgrade.address);
    const peer = connect(port, host);
    const original = Buffer.from(JSON.stringify({ method: req.method ?? "GET", url: req.url ?? "/", headers: req.headers })).toString("base64");
    const preamble =
      `GET /_torpor/upgrade?owner=${upgrade.owner}&token=${upgrade.token} HTTP/1.1\r\n` +
      `Host: ${upgrade.address}\r\nConnection: Upgrade\r\nUpgrade: torpor-splice\r\nX-Torpor-Request: ${original}\r\n\r\n`;
    peer.setNoDelay(true);
    client.setNoDelay(true);
    peer.write(preamble);
    const early = more.length > 0 ? Buffer.concat([head, more]) : head;
    if (early.length > 0) peer.write(early);
    const cut = () => {
      client.destroy();
      peer.destroy();
    };
    peer.on("error", cut);
    client.on("error", cut);
    peer.on("close", cut);
    client.on("close", cut);
    // pipe() keeps order and applies backpressure both ways.
    peer.pipe(client);
    client.pipe(peer);
    restartReading(client);
  }

  /** The Worker did not return the owner's WebSocket: the owner drops the socket it parked. */
  abandon(upgrade: RemoteUpgrade): void {
    const [host, port] = splitAddress(upgrade.address);
    const req = httpRequest({ host, port, method: "POST", path: `/_torpor/abandon?owner=${upgrade.owner}&token=${upgrade.token}`, agent: this.#agent });
    req.on("error", () => {});
    req.on("response", (res) => res.resume());
    req.end();
  }

  close(): void {
    this.#agent.destroy();
  }
}

/** A body that travelled whole between nodes, as a stream again. */
export function streamOfBytes(bytes: Uint8Array): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(controller) {
      if (bytes.byteLength > 0) controller.enqueue(bytes);
      controller.close();
    },
  });
}

/** The owner as the table names it, or null when its lease (as last seen) has already run out. */
function live(remote: NodeTable["remote"][number]): NodeTable["remote"][number] {
  return remote !== null && remote.expiresAt > monotonicNow() ? remote : null;
}

/** "host:port" (or "[v6]:port") → [host, port]. */
export function splitAddress(address: string): [string, number] {
  const at = address.lastIndexOf(":");
  const host = address.slice(0, at).replace(/^\[(.*)\]$/, "$1");
  return [host, Number(address.slice(at + 1))];
}
