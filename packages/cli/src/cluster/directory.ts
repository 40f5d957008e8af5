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

interface Pending {
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

export class ClusterDirectory implements HostDirectory {
  /** False until the supervisor says this worker's slots are free of any other owner (after a move-in). */
  acquired: boolean;
  readonly #pending = new Map<number, Pending>();
  #nextRid = 1;

  constructor(
    readonly index: number,
    readonly slots: readonly number[],
    acquired: boolean,
    readonly send: (message: FromWorker, handle?: unknown) => void,
  ) {
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
    const wire = (await this.#route(key, { op: "fetch", request: await encodeRequest(request) })) as WireResponse;
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
