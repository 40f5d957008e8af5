/**
 * RPC by reference between the worker processes of a cluster, as workerd
 * passes functions, RpcTargets and stubs between isolates: the process that
 * holds such a value keeps it in an export table, and the other gets a stub
 * whose calls, property reads and disposal travel back here as messages
 * (reference-messages.ts). What a stub may reach, disposal by count,
 * `dup()`, and the errors after disposal are core's (rpc-reference.ts,
 * rpc-marshal.ts); this file adds the table and the messages.
 *
 * Every entry belongs to the one process that may use it, and goes when
 * that process releases it (its last stub was disposed or collected),
 * exits, or is reloaded away. Entries sent with a routed call belong to the
 * call until its reply names the process that ran it. A process holds at
 * most `limit` entries for any one other process: past that, passing one
 * more reference fails with ERR_RPC_REFERENCE_LIMIT.
 */
import { TorporError } from "@torpor/core";
import {
  type CallOptions,
  disposable,
  disposeAll,
  type Importer,
  importedStub,
  LocalTarget,
  type ObjectHost,
  type RpcExport,
  type RpcOp,
  transferIn,
  transferOut,
  type Transferred,
  type WireRefs,
} from "@torpor/core/cluster";
import { type ReferenceFromWorker, type ReferenceToWorker, referenceLost } from "./reference-messages.ts";
import { decodeError, encodeError } from "./wire.ts";

/** The most entries one process holds for another (a client could otherwise grow the table without bound). */
export const MAX_REFERENCES_PER_PROCESS = 10_000;

/** Exited processes remembered (a reply can follow its process's exit notice): the oldest are forgotten. */
const EXITED_REMEMBERED = 1_000;

interface Entry {
  exported: RpcExport;
  /** The process holding stubs to it (a serial), or minus the routed call it went out with until that call's reply. */
  owner: number;
}

/** A routed call or read whose caller passes references (`refs` on the message). */
export type RoutedReferenceCall = { rid: number; from: number; refs?: WireRefs } & (
  | { op: "call"; method: string; args: unknown[] }
  | { op: "read"; property: string }
);

/** What this needs from its worker. */
export interface ReferenceOptions {
  send(message: ReferenceFromWorker): void;
  /** A stub to a Durable Object passed in a value (made by this process's runtime). */
  durable(key: { namespace: string; id: string; name?: string }): object;
  /** Told the number of entries after every change (the `torpor_rpc_references` gauge). */
  onSize?(entries: number): void;
  limit?: number;
}

export class RpcReferences {
  readonly #entries = new Map<number, Entry>();
  /** Entry ids by owner (a serial, or minus a call). */
  readonly #owned = new Map<number, Set<number>>();
  readonly #calls = new Map<number, { peer: number; resolve(value: unknown): void; reject(error: unknown): void }>();
  readonly #exited = new Set<number>();
  readonly #releases = new Map<number, number[]>();
  readonly #importers = new Map<number, Importer>();
  readonly limit: number;
  #nextId = 1;
  #nextRid = 1;
  #nextCall = 1;

  constructor(readonly options: ReferenceOptions) {
    this.limit = options.limit ?? MAX_REFERENCES_PER_PROCESS;
  }

  /** Entries held for other processes now. */
  get size(): number {
    return this.#entries.size;
  }

  // ---- routed calls (directory.ts sends them, worker.ts serves them) --------------------------------------------

  /** A new owner for the entries a routed call sends, until its reply says which process ran it. */
  openCall(): number {
    return -this.#nextCall++;
  }

  /** `value` for the wire, its references held for `owner` (a serial, or an `openCall()`). */
  transfer<T>(value: T, direction: "params" | "result", what: string, owner: number, fresh = false): Transferred<T> {
    const made: number[] = [];
    try {
      return transferOut(
        value,
        direction,
        what,
        (exported) => {
          const id = this.#add(exported, owner);
          made.push(id);
          return id;
        },
        fresh,
      );
    } catch (error) {
      // Nothing was sent: what this value had exported so far is released.
      for (const id of made) this.#drop(id);
      throw error;
    }
  }

  /** The routed call that sent entries (`owner` from `openCall`) was answered by `peer` (0: the supervisor, it did not run). */
  closeCall(owner: number, peer: number): void {
    const ids = this.#owned.get(owner);
    if (ids === undefined) return;
    this.#owned.delete(owner);
    if (peer <= 0 || this.#exited.has(peer)) {
      for (const id of ids) this.#drop(id);
      return;
    }
    let set = this.#owned.get(peer);
    if (set === undefined) this.#owned.set(peer, (set = new Set()));
    for (const id of ids) {
      const entry = this.#entries.get(id);
      if (entry === undefined) continue;
      entry.owner = peer;
      set.add(id);
    }
  }

  /** A value received from `peer`, its references made stubs (`stubs` gets the RPC stubs made). */
  receive(value: unknown, refs: WireRefs | undefined, peer: number, stubs?: object[]): unknown {
    return transferIn(value, refs, this.#importer(peer), stubs);
  }

  /** A reply's value as its caller gets it: stubs for its references, and `Symbol.dispose` on an object. */
  receiveResult(value: unknown, refs: WireRefs | undefined, peer: number): unknown {
    return disposable(this.receive(value, refs, peer));
  }

  /**
   * Runs a routed call or read on `host` for a caller in another process:
   * its arguments' references become stubs calling back there (disposed when
   * the call returns, as in one process), and its result's are exported.
   * The arguments are the callee's own (decoded from the message), so they
   * are not copied again; a result (or property) without references is given
   * to `encode` (its reply, encoded where the value would be copied), and what
   * it returns is returned.
   */
  async serveRouted<E>(host: ObjectHost, message: RoutedReferenceCall, encode?: (value: unknown, what: string) => E): Promise<Transferred<unknown> | E> {
    const target = new LocalTarget(host, true);
    let encoded: { value: E } | null = null;
    const options: CallOptions = { freshArgs: true };
    if (encode !== undefined) options.encode = (value, what) => (encoded = { value: encode(value, what) }).value;
    if (message.op === "read") {
      const value = await target.read(message.property, options);
      if (encoded !== null) return (encoded as { value: E }).value;
      return this.transfer(value, "result", `the property ${message.property}`, message.from, true);
    }
    const stubs: object[] = [];
    try {
      const args = this.receive(message.args, message.refs, message.from, stubs) as unknown[];
      const value = await target.call(message.method, args, options);
      if (encoded !== null) return (encoded as { value: E }).value;
      // LocalTarget marshalled the result already (a copy of its own): it is not copied again.
      return this.transfer(value, "result", `the result of ${message.method}()`, message.from, true);
    } finally {
      disposeAll(stubs);
    }
  }

  // ---- messages from other processes ---------------------------------------------------------------------------

  /** A reference message relayed by the supervisor. */
  onMessage(message: ReferenceToWorker): void {
    switch (message.t) {
      case "ref-call":
        void this.#serve(message);
        return;
      case "ref-reply": {
        const call = this.#calls.get(message.rid);
        if (call === undefined) return;
        this.#calls.delete(message.rid);
        if (!message.ok) call.reject(decodeError(message.error));
        else {
          try {
            call.resolve(this.receiveResult(message.value, message.refs, call.peer));
          } catch (error) {
            call.reject(error);
          }
        }
        return;
      }
      case "ref-release":
        for (const id of message.ids) {
          const entry = this.#entries.get(id);
          // Only its holder may release an entry (an entry still out with a call: the process running it).
          if (entry !== undefined && (entry.owner === message.from || entry.owner < 0)) this.#drop(id);
        }
        return;
    }
  }

  /** Process `serial` exited: what it held is released, and calls waiting on it fail. */
  peerExited(serial: number): void {
    this.#exited.add(serial);
    if (this.#exited.size > EXITED_REMEMBERED) this.#exited.delete(this.#exited.values().next().value!);
    this.#importers.delete(serial);
    this.#releases.delete(serial);
    const ids = this.#owned.get(serial);
    if (ids !== undefined) {
      this.#owned.delete(serial);
      for (const id of ids) this.#drop(id);
    }
    for (const [rid, call] of this.#calls) {
      if (call.peer !== serial) continue;
      this.#calls.delete(rid);
      call.reject(decodeError(lost(serial)));
    }
  }

  /** The supervisor is gone: no call will be answered. */
  failAll(error: Error): void {
    for (const call of this.#calls.values()) call.reject(error);
    this.#calls.clear();
  }

  async #serve(message: Extract<ReferenceToWorker, { t: "ref-call" }>): Promise<void> {
    const peer = message.from;
    const entry = this.#entries.get(message.ref);
    if (entry === undefined || (entry.owner > 0 && entry.owner !== peer)) {
      this.options.send({ t: "ref-reply", to: peer, rid: message.rid, ok: false, error: lost(0) });
      return;
    }
    const stubs: object[] = [];
    let reply: ReferenceFromWorker;
    try {
      const args = this.receive(message.args, message.refs, peer, stubs) as unknown[];
      const label = message.path.length === 0 ? "a function" : message.path.join(".");
      // The invoke marshalled its result already (rpc-marshal.ts): it is not copied again.
      const out = this.transfer(await entry.exported.invoke(message.path, args, message.op), "result", `the result of ${label}`, peer, true);
      reply = { t: "ref-reply", to: peer, rid: message.rid, ok: true, value: out.value, ...(out.refs !== undefined ? { refs: out.refs } : {}) };
    } catch (error) {
      reply = { t: "ref-reply", to: peer, rid: message.rid, ok: false, error: encodeError(error) };
    }
    this.options.send(reply);
    disposeAll(stubs);
  }

  // ---- stubs to other processes' values ------------------------------------------------------------------------

  #importer(peer: number): Importer {
    let importer = this.#importers.get(peer);
    if (importer === undefined) {
      importer = {
        imported: (id) =>
          importedStub(
            (path, args, op) => this.#call(peer, id, path, args, op),
            () => this.#release(peer, id),
          ),
        durable: (key) => this.options.durable(key),
      };
      this.#importers.set(peer, importer);
    }
    return importer;
  }

  #call(peer: number, ref: number, path: readonly string[], args: unknown[], op: RpcOp): Promise<unknown> {
    if (this.#exited.has(peer)) return Promise.reject(decodeError(lost(peer)));
    let out: Transferred<unknown[]>;
    try {
      out = this.transfer(args, "params", `the arguments of ${path.length === 0 ? "a function" : `${path.join(".")}()`}`, peer);
    } catch (error) {
      return Promise.reject(error);
    }
    const rid = this.#nextRid++;
    return new Promise((resolve, reject) => {
      this.#calls.set(rid, { peer, resolve, reject });
      this.options.send({ t: "ref-call", to: peer, rid, ref, path: [...path], op, args: out.value, ...(out.refs !== undefined ? { refs: out.refs } : {}) });
    });
  }

  /** The last stub here to entry `id` of `peer` is gone: told in one message per process and turn. */
  #release(peer: number, id: number): void {
    if (this.#exited.has(peer)) return;
    let ids = this.#releases.get(peer);
    if (ids === undefined) {
      this.#releases.set(peer, (ids = []));
      setImmediate(() => {
        const batch = this.#releases.get(peer);
        this.#releases.delete(peer);
        if (batch !== undefined && batch.length > 0) this.options.send({ t: "ref-release", to: peer, ids: batch });
      });
    }
    ids.push(id);
  }

  // ---- the table -----------------------------------------------------------------------------------------------

  #add(exported: RpcExport, owner: number): number {
    let ids = this.#owned.get(owner);
    if (ids !== undefined && ids.size >= this.limit) {
      throw new TorporError(
        "ERR_RPC_REFERENCE_LIMIT",
        `This worker process already holds ${this.limit} RPC references (functions, RpcTargets, stubs) for ${owner > 0 ? `worker process ${owner}` : "one call"}, the most it keeps for one process; the call did not run. Dispose stubs you no longer need (\`using\`, or stub[Symbol.dispose]()).`,
      );
    }
    if (ids === undefined) this.#owned.set(owner, (ids = new Set()));
    const id = this.#nextId++;
    exported.retain();
    this.#entries.set(id, { exported, owner });
    ids.add(id);
    this.options.onSize?.(this.#entries.size);
    return id;
  }

  #drop(id: number): void {
    const entry = this.#entries.get(id);
    if (entry === undefined) return;
    this.#entries.delete(id);
    const ids = this.#owned.get(entry.owner);
    ids?.delete(id);
    if (ids !== undefined && ids.size === 0) this.#owned.delete(entry.owner);
    entry.exported.release();
    this.options.onSize?.(this.#entries.size);
  }
}

function lost(serial: number): ReturnType<typeof encodeError> {
  if (serial > 0) return referenceLost(serial);
  return {
    name: "TorporError",
    code: "ERR_RPC_REFERENCE_LOST",
    message: "The worker process this RPC stub refers to no longer holds its target (it was released); the call did not run.",
  };
}
