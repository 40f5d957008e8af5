/**
 * A worker's view of object ownership (core's HostDirectory): the slot
 * table from the supervisor, whether this worker holds its slots yet, and
 * routed calls to the others, relayed by the supervisor by worker index.
 */
import { TorporError } from "@torpor/core";
import type { ObjectKey } from "@torpor/core/storage";
import { handoffWebSocket, slotOf, type HostDirectory } from "@torpor/core/cluster";
import type { CallOp, FromWorker } from "./ipc.ts";
import { decodeError, decodeResponse, encodeRequest, type WireError, type WireResponse } from "./wire.ts";
import { handOffUpgrade } from "./sockets.ts";
import type { PeerClient } from "./peer-client.ts";

interface Pending {
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

export class ClusterDirectory implements HostDirectory {
  /** False until the supervisor says this worker's slots are free of any other owner (after a move-in). */
  acquired: boolean;
  readonly #pending = new Map<number, Pending>();
  #nextRid = 1;

  /** slot → the local worker serving it; -1: another node holds it (reached through `peer`). */
  slots: readonly number[];
  /** Calls to other nodes (a node of several machines), else null. */
  peer: PeerClient | null = null;

  constructor(
    readonly index: number,
    slots: readonly number[],
    acquired: boolean,
    readonly send: (message: FromWorker, handle?: unknown) => void,
  ) {
    this.slots = slots;
    this.acquired = acquired;
  }

  /** The index of the worker owning `key`. */
  ownerOf(key: ObjectKey): number {
    return this.slots[slotOf(key.id)]!;
  }

  isLocal(key: ObjectKey): boolean {
    return this.acquired && this.slots[slotOf(key.id)] === this.index;
  }

  async fetch(key: ObjectKey, request: Request): Promise<Response> {
    const op = { op: "fetch", request: await encodeRequest(request) } as const;
    const peer = this.peer;
    if (peer !== null && this.ownerOf(key) < 0) {
      const { value, upgrade } = await peer.call(key, slotOf(key.id), op);
      const wire = value as WireResponse;
      if (upgrade === undefined) return decodeResponse(wire);
      // The owner node holds the WebSocket: the client's connection is spliced to it if the Worker returns this response.
      const webSocket = handoffWebSocket({
        handOff: (req, socket, head) => peer.spliceUpgrade(upgrade, req, socket, head),
        abandon: () => peer.abandon(upgrade),
      });
      return decodeResponse(wire, webSocket);
    }
    const wire = (await this.#route(key, op)) as WireResponse;
    const upgrade = wire.upgrade;
    if (upgrade === undefined) return decodeResponse(wire);
    // The owner accepted a WebSocket: the client's socket goes there if the Worker returns this response.
    const webSocket = handoffWebSocket({
      handOff: (req, socket, head) => handOffUpgrade(this.send, upgrade.owner, upgrade.token, req, socket, head),
      abandon: () => this.send({ t: "abandon", to: upgrade.owner, token: upgrade.token }),
    });
    return decodeResponse(wire, webSocket);
  }

  call(key: ObjectKey, method: string, args: unknown[]): Promise<unknown> {
    return this.#route(key, { op: "call", method, args });
  }

  read(key: ObjectKey, property: string): Promise<unknown> {
    return this.#route(key, { op: "read", property });
  }

  #route(key: ObjectKey, op: CallOp): Promise<unknown> {
    if (this.peer !== null && this.ownerOf(key) < 0) return this.peer.call(key, slotOf(key.id), op).then((r) => r.value);
    const rid = this.#nextRid++;
    return new Promise((resolve, reject) => {
      this.#pending.set(rid, { resolve, reject });
      // A key with its name, so the owner's storage records it as a local call would.
      this.send({
        t: "call",
        rid,
        to: this.ownerOf(key),
        key: { namespace: key.namespace, id: key.id, ...(key.name !== undefined ? { name: key.name } : {}) },
        ...op,
      });
    });
  }

  /** A reply to one of this worker's routed calls. */
  settle(rid: number, ok: boolean, value: unknown): void {
    const pending = this.#pending.get(rid);
    if (pending === undefined) return;
    this.#pending.delete(rid);
    if (ok) pending.resolve(value);
    else pending.reject(decodeError(value as WireError));
  }

  /** The supervisor is gone: nothing routed will be answered. */
  failAll(): void {
    for (const pending of this.#pending.values())
      pending.reject(new TorporError("ERR_OBJECT_UNAVAILABLE", "The cluster supervisor exited; routed calls cannot be answered."));
    this.#pending.clear();
  }
}
