/**
 * A worker's view of object ownership (core's HostDirectory): the slots this
 * process owns now (given by the supervisor with `acquire`, given up on a
 * reload), and routed calls for every other object. A routed call names the
 * object, not a worker: the supervisor knows who owns its slot now. Replies
 * come back to this process by its serial, matched by a call id unique in
 * this process.
 *
 * A call whose owner this process has learned goes to it directly, on the
 * channel between the two processes (call-paths.ts, worker-channels.ts).
 *
 * On a node of several machines, a call for a slot another node holds goes
 * straight to that node (peer-client.ts), not through the supervisor.
 */
import { TorporError } from "@torpor/core";
import { handoffWebSocket, type HostDirectory, rpcClone, slotOf, type WireRefs } from "@torpor/core/cluster";
import type { ObjectKey } from "@torpor/core/storage";
import type { BodyStreams } from "./body-streams.ts";
import { CallPaths, VIA_SUPERVISOR } from "./call-paths.ts";
import type { CallOp, FromWorker } from "./ipc.ts";
import { type PeerClient, streamOfBytes } from "./peer-client.ts";
import type { RpcReferences } from "./rpc-references.ts";
import { handOffUpgrade } from "./sockets.ts";
import type { Frame } from "./frame-codec.ts";
import { encodeRpcFrame } from "./rpc-frame.ts";
import type { ChannelCall, WorkerChannels } from "./worker-channels.ts";
import { decodeError, encodeRequest, ownerExitedError, type WireError, type WireResponse } from "./wire.ts";
import { decodeResponse } from "./wire-response.ts";

/** A routed fetch's response as it arrived, with its body stream opened. */
type ReceivedResponse = WireResponse & { stream: ReadableStream<Uint8Array> | null };

interface Pending {
  resolve(value: unknown): void;
  reject(error: unknown): void;
  /** The request body streaming out with this call, if any (cancelled if the call fails). */
  body: number | null;
  /** A routed fetch: its response body streams from the process that answered. */
  fetch: boolean;
  /** An RPC call or read: the owner of the references it sent (RpcReferences.openCall). */
  references?: number;
  slot: number;
  /** The call, encoded when it was made (whichever path it takes, and again if refused). */
  frame: Frame;
  /** The path it was sent on: VIA_SUPERVISOR or the serial of the process it went to directly. */
  via: number;
  /** Counted in its slot's calls in flight (CallPaths). */
  counted: boolean;
}

export class ClusterDirectory implements HostDirectory {
  /** Calls pass functions, RpcTargets and stubs by reference between this node's workers (rpc-references.ts). */
  readonly references = true;
  /** Slots this process owns now. */
  readonly owned = new Set<number>();
  readonly #pending = new Map<number, Pending>();
  #nextRid = 1;
  #closed = false;
  /** Calls to other nodes (a node of several machines), else null. */
  peer: PeerClient | null = null;
  /** A node of several machines: slot → the local worker serving it, -1 when another node (or nobody) holds it. */
  nodeSlots: readonly number[] | null = null;
  readonly #paths = new CallPaths<Pending>();
  /** Whether a new call may go to a process on its channel (made once: every routed call asks). */
  readonly #usable = (serial: number): boolean => this.channels.usable(serial);

  constructor(
    readonly index: number,
    /** This process's serial (what replies and upgrades are addressed to). */
    readonly serial: number,
    readonly send: (message: FromWorker | Frame, handle?: unknown) => void,
    readonly bodies: BodyStreams,
    readonly rpc: RpcReferences,
    /** Direct channels to the other workers. */
    readonly channels: WorkerChannels,
  ) {}

  isLocal(key: ObjectKey): boolean {
    return this.owned.has(slotOf(key.id));
  }

  /** The peer client when `key`'s slot is held by another node (or by nobody yet), else null. */
  #remote(key: ObjectKey): PeerClient | null {
    return this.peer !== null && this.nodeSlots !== null && (this.nodeSlots[slotOf(key.id)] ?? -1) < 0 ? this.peer : null;
  }

  async fetch(key: ObjectKey, request: Request): Promise<Response> {
    const peer = this.#remote(key);
    if (peer !== null) return this.#fetchRemote(peer, key, request);
    // The body streams to whichever process gets the call: it asks for it (credit) once it runs the request.
    const body = request.body === null || request.method === "GET" || request.method === "HEAD" ? null : this.bodies.outgoing(request.body, null);
    const wire = (await this.#route(key, { op: "fetch", request: encodeRequest(request, body) }, body)) as ReceivedResponse;
    const upgrade = wire.upgrade;
    if (upgrade === undefined) return decodeResponse(wire, wire.stream);
    // The owner accepted a WebSocket: the client's socket goes there if the Worker returns this response.
    const webSocket = handoffWebSocket({
      handOff: (req, socket, head) => handOffUpgrade(this.send, upgrade.owner, upgrade.token, req, socket, head),
      abandon: () => this.send({ t: "abandon", to: upgrade.owner, token: upgrade.token }),
    });
    return decodeResponse(wire, wire.stream, webSocket);
  }

  /** A fetch to another node: the request body is read whole (the server bounded it), the response comes whole. */
  async #fetchRemote(peer: PeerClient, key: ObjectKey, request: Request): Promise<Response> {
    const bytes = request.body === null || request.method === "GET" || request.method === "HEAD" ? null : new Uint8Array(await request.arrayBuffer());
    const { value, body, upgrade } = await peer.call(key, slotOf(key.id), { op: "fetch", request: encodeRequest(request, null) }, bytes);
    const wire = value as WireResponse;
    const stream = body === null ? null : streamOfBytes(body);
    if (upgrade === undefined) return decodeResponse(wire, stream);
    // The owner node holds the WebSocket: the client's connection is spliced to it if the Worker returns this response.
    const webSocket = handoffWebSocket({
      handOff: (req, socket, head) => peer.spliceUpgrade(upgrade, req, socket, head),
      abandon: () => peer.abandon(upgrade),
    });
    return decodeResponse(wire, stream, webSocket);
  }

  call(key: ObjectKey, method: string, args: unknown[]): Promise<unknown> {
    const peer = this.#remote(key);
    if (peer !== null) {
      // Another node: values are copied (references stay within one node's processes: ERR_RPC_CLONE).
      let cloned: unknown[];
      try {
        cloned = rpcClone(args, `the arguments of ${method}()`);
      } catch (error) {
        return Promise.reject(error);
      }
      return peer.call(key, slotOf(key.id), { op: "call", method, args: cloned }).then((r) => r.value);
    }
    if (this.#closed) return Promise.reject(supervisorGone());
    const references = this.rpc.openCall();
    const what = `the arguments of ${method}()`;
    let sent: { value: unknown[]; refs?: WireRefs };
    try {
      // Not copied: #route encodes the call at once, and that is the copy (rpc-frame.ts).
      sent = this.rpc.transfer(args, "params", what, references, true);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#route(key, { op: "call", method, args: sent.value, refs: sent.refs ?? [] }, null, references, what);
  }

  read(key: ObjectKey, property: string): Promise<unknown> {
    const peer = this.#remote(key);
    if (peer !== null) return peer.call(key, slotOf(key.id), { op: "read", property }).then((r) => r.value);
    return this.#route(key, { op: "read", property, refs: [] }, null, this.rpc.openCall());
  }

  /** `what`: how errors name the arguments of a call (`op.args`, not copied yet: encoded now). */
  #route(key: ObjectKey, op: CallOp, body: number | null, references?: number, what = "the request"): Promise<unknown> {
    if (this.#closed) {
      if (body !== null) this.bodies.cancelOutgoing(body);
      if (references !== undefined) this.rpc.closeCall(references, 0);
      return Promise.reject(supervisorGone());
    }
    const rid = this.#nextRid++;
    // A key with its name, so the owner's storage records it as a local call would.
    const message = {
      t: "call",
      rid,
      key: { namespace: key.namespace, id: key.id, ...(key.name !== undefined ? { name: key.name } : {}) },
      ...op,
    } as ChannelCall;
    let frame: Frame;
    try {
      frame = encodeRpcFrame(message, op.op === "call" ? op.args : undefined, what);
    } catch (error) {
      if (body !== null) this.bodies.cancelOutgoing(body);
      if (references !== undefined) this.rpc.closeCall(references, 0);
      return Promise.reject(error);
    }
    return new Promise((resolve, reject) => {
      const pending: Pending = {
        resolve,
        reject,
        body,
        fetch: op.op === "fetch",
        ...(references !== undefined ? { references } : {}),
        slot: slotOf(key.id),
        frame,
        via: VIA_SUPERVISOR,
        counted: false,
      };
      this.#pending.set(rid, pending);
      this.#dispatch(pending);
    });
  }

  /** Sends a call on its slot's path (direct to the owner when known, else through the supervisor). */
  #dispatch(pending: Pending): void {
    pending.via = this.#paths.open(pending.slot, this.#usable);
    pending.counted = true;
    if (pending.via !== VIA_SUPERVISOR && this.channels.call(pending.via, pending.frame)) return;
    if (pending.via !== VIA_SUPERVISOR) {
      // The slot's calls go to a process whose channel just ended (it is exiting): this one goes through the supervisor, outside the slot's count.
      const via = pending.via;
      pending.via = VIA_SUPERVISOR;
      pending.counted = false;
      this.#paths.forget(via);
      for (const again of this.#paths.done(pending.slot, via)) this.#dispatch(again);
    }
    this.send(pending.frame);
  }

  /** A call ended on its path: calls refused meanwhile go again now. */
  #ended(pending: Pending): void {
    if (!pending.counted) return;
    pending.counted = false;
    for (const again of this.#paths.done(pending.slot, pending.via)) this.#dispatch(again);
  }

  /** Process `peer` refused a direct call (it does not own the object): the call did not run and goes again, through the supervisor. */
  refused(peer: number, rid: number): void {
    const pending = this.#pending.get(rid);
    if (pending === undefined || pending.via !== peer) return;
    // Waiting to go again: on no path until then (a closing channel does not fail it).
    pending.counted = false;
    pending.via = -1;
    for (const again of this.#paths.refused(pending.slot, peer, pending)) this.#dispatch(again);
  }

  /** The channel to `peer` closed: its direct calls in flight fail as when a routed call's owner exits. */
  channelClosed(peer: number): void {
    this.#paths.forget(peer);
    for (const [rid, pending] of this.#pending) {
      if (pending.via !== peer) continue;
      this.#pending.delete(rid);
      this.#ended(pending);
      this.#fail(pending, decodeError(ownerExitedError()));
    }
  }

  /**
   * A reply to one of this process's routed calls; `from` is the process that answered (0: the supervisor); `refs`: its
   * result's references; `via`: the path it came on.
   */
  settle(rid: number, from: number, ok: boolean, value: unknown, refs?: WireRefs, via = VIA_SUPERVISOR): void {
    const pending = this.#pending.get(rid);
    if (pending === undefined || pending.via !== via) return;
    this.#pending.delete(rid);
    this.#ended(pending);
    if (via === VIA_SUPERVISOR) this.#paths.learn(pending.slot, from);
    if (pending.references !== undefined) {
      // The references sent now belong to the process that ran the call (none did if the supervisor answered).
      this.rpc.closeCall(pending.references, from);
      if (ok) {
        try {
          pending.resolve(this.rpc.receiveResult(value, refs, from));
        } catch (error) {
          pending.reject(error);
        }
        return;
      }
    }
    if (ok) {
      // Its body's chunks may follow at once in the same turn: the stream is there to take them before the caller resumes.
      if (pending.fetch) {
        const wire = value as ReceivedResponse;
        wire.stream = wire.body === null ? null : this.bodies.incoming(from, wire.body.stream, false);
      }
      pending.resolve(value);
      return;
    }
    if (pending.body !== null) this.bodies.cancelOutgoing(pending.body);
    pending.reject(decodeError(value as WireError));
  }

  /** The supervisor is gone: nothing routed will be answered. */
  failAll(): void {
    this.#closed = true;
    this.rpc.failAll(supervisorGone());
    for (const pending of this.#pending.values()) this.#fail(pending, supervisorGone());
    this.#pending.clear();
  }

  /** A call that will not be answered: its body stops streaming, the references it sent go back to nobody, its caller gets `error`. */
  #fail(pending: Pending, error: Error): void {
    if (pending.body !== null) this.bodies.cancelOutgoing(pending.body);
    if (pending.references !== undefined) this.rpc.closeCall(pending.references, 0);
    pending.reject(error);
  }
}

function supervisorGone(): TorporError {
  return new TorporError("ERR_OBJECT_UNAVAILABLE", "The cluster supervisor exited; routed calls cannot be answered.");
}
