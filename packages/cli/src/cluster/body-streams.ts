/**
 * Request and response bodies streamed between cluster processes, with
 * backpressure. The writer sends chunks only as far as the reader granted
 * credit (a window of `WINDOW_BYTES`), and the reader grants more as its
 * consumer takes chunks, so a stream (SSE, a long download, an upload) flows
 * as it is produced, and a reader that stops reading stops the writer
 * instead of making the writer's process buffer without bound.
 *
 * A stream is named by its writer's id for it; the reader keys it by the
 * writer's process serial too. A response body flows at once (the writer
 * knows its reader: the caller), with the first window granted implicitly;
 * a request body waits for its first credit, which names the process that
 * took the call. When the process at the other end exits, the supervisor
 * says so and the stream ends with an error.
 *
 * Two paths join two workers: the supervisor and their direct channel
 * (worker-channels.ts). A stream's chunks all take one path, so they arrive in
 * order: a response body the path its reply took (it must not overtake it), a
 * request body the path its first credit came on. Credits and cancels may take
 * either (`direct: null`).
 */
import { TorporError } from "@torpor/core/errors";
import type { FromWorker } from "./ipc.ts";
import { decodeError, encodeError, type WireError } from "./wire.ts";

/** Bytes a writer may send ahead of what its reader consumed. */
export const WINDOW_BYTES = 256 * 1024;
/** Largest chunk on the wire. */
const CHUNK_BYTES = 64 * 1024;

interface Outgoing {
  reader: ReadableStreamDefaultReader<Uint8Array>;
  /** The reading process, once known. */
  peer: number | null;
  /** Its chunks go on the direct channel (else through the supervisor). */
  direct: boolean;
  credit: number;
  seq: number;
  pumping: boolean;
}

interface Incoming {
  peer: number;
  stream: number;
  queue: Uint8Array[];
  /** End of stream received (after `queue` is taken), or its error. */
  end: { error: Error | null } | null;
  seq: number;
  wake: (() => void) | null;
}

/** The streams of one process. */
export class BodyStreams {
  readonly #out = new Map<number, Outgoing>();
  readonly #in = new Map<string, Incoming>();
  /** Processes known to be gone (serials are never reused): a stream from one of them fails at once. */
  readonly #gone = new Set<number>();
  #nextId = 1;
  #idle: (() => void) | null = null;
  /** A stream nobody read to its end and nothing references any more: the writer is told to stop. */
  readonly #dropped = new FinalizationRegistry<string>((key) => this.#cancelIncoming(key));

  /** `send(message, direct)`: `direct` true/false pins the path; null lets the sender pick. */
  constructor(readonly send: (message: FromWorker, direct: boolean | null) => void) {}

  /** Streams open now (a draining process waits for them). */
  get active(): number {
    return this.#out.size + this.#in.size;
  }

  /** Resolves once no stream is open. */
  idle(): Promise<void> {
    if (this.active === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const previous = this.#idle;
      this.#idle = () => {
        previous?.();
        resolve();
      };
    });
  }

  /**
   * Sends `body` to `peer` (or to whoever grants credit first, when `peer` is
   * null); `credit` bytes may go before any credit arrives; `direct`: on the
   * direct channel to `peer` (else through the supervisor). Returns its id.
   */
  outgoing(body: ReadableStream<Uint8Array>, peer: number | null, credit = 0, direct = false): number {
    const id = this.#nextId++;
    const entry: Outgoing = { reader: body.getReader(), peer, direct, credit, seq: 0, pumping: false };
    this.#out.set(id, entry);
    if (peer !== null && credit > 0) void this.#pump(id, entry);
    return id;
  }

  /** Stops sending `id` (its call failed, or its reader went away). */
  cancelOutgoing(id: number, reason?: unknown): void {
    const entry = this.#out.get(id);
    if (entry === undefined) return;
    this.#finishOut(id);
    entry.reader.cancel(reason).catch(() => {});
  }

  /**
   * The body `stream` that process `peer` writes, as a ReadableStream.
   * `grant`: send the first window's credit now (a request body, whose writer
   * waits for it); a response body's first window is implied.
   */
  incoming(peer: number, stream: number, grant: boolean): ReadableStream<Uint8Array> {
    const key = `${peer}:${stream}`;
    // The entry holds nothing of the stream, so a stream nobody references can be collected (and its writer told).
    const entry: Incoming = { peer, stream, queue: [], end: null, seq: 0, wake: null };
    if (this.#gone.has(peer)) entry.end = { error: peerGone() };
    else {
      this.#in.set(key, entry);
      if (grant) this.send({ t: "body-credit", to: peer, stream, bytes: WINDOW_BYTES }, null);
    }
    const readable = new ReadableStream<Uint8Array>(
      {
        pull: async (controller) => {
          while (entry.queue.length === 0 && entry.end === null) await new Promise<void>((resolve) => (entry.wake = resolve));
          const chunk = entry.queue.shift();
          if (chunk !== undefined) {
            controller.enqueue(chunk);
            // Taken by the consumer: the writer may send that much more.
            if (entry.end === null) this.send({ t: "body-credit", to: peer, stream, bytes: chunk.byteLength }, null);
            return;
          }
          this.#finishIn(key);
          if (entry.end!.error !== null) controller.error(entry.end!.error);
          else controller.close();
        },
        cancel: () => this.#cancelIncoming(key),
      },
      { highWaterMark: 0 },
    );
    this.#dropped.register(readable, key, entry);
    return readable;
  }

  /** A body message from process `from` (`direct`: it came on the direct channel). */
  onMessage(message: { t: string; from: number; stream: number; seq?: number; data?: Uint8Array; bytes?: number; error?: WireError }, direct = false): void {
    const { from, stream } = message;
    if (message.t === "body-credit" || message.t === "body-cancel") {
      const entry = this.#out.get(stream);
      if (entry === undefined) return;
      // The first credit names the reader (and the path of the chunks); nobody else may steer the stream.
      if (entry.peer === null) {
        entry.peer = from;
        entry.direct = direct;
      }
      if (entry.peer !== from) return;
      if (message.t === "body-cancel") this.cancelOutgoing(stream);
      else {
        entry.credit += message.bytes ?? 0;
        void this.#pump(stream, entry);
      }
      return;
    }
    const entry = this.#in.get(`${from}:${stream}`);
    if (entry === undefined || entry.end !== null) return;
    if (message.seq !== entry.seq++) {
      entry.end = { error: new TorporError("ERR_OBJECT_UNAVAILABLE", `A routed body arrived out of order (chunk ${message.seq}, expected ${entry.seq - 1}).`) };
    } else if (message.t === "body-chunk") entry.queue.push(message.data!);
    else entry.end = { error: message.error === undefined ? null : decodeError(message.error) };
    entry.wake?.();
    entry.wake = null;
  }

  /** Process `serial` is gone: streams from it fail, streams to it stop. */
  peerExited(serial: number): void {
    this.#gone.add(serial);
    for (const [key, entry] of this.#in) {
      if (entry.peer !== serial) continue;
      // The reader's next pull ends the stream with this error (its closure holds the entry).
      entry.end ??= { error: peerGone() };
      entry.wake?.();
      entry.wake = null;
      this.#finishIn(key);
    }
    for (const [id, entry] of this.#out) if (entry.peer === serial) this.cancelOutgoing(id);
  }

  async #pump(id: number, entry: Outgoing): Promise<void> {
    if (entry.pumping || entry.peer === null) return;
    entry.pumping = true;
    const peer = entry.peer;
    const direct = entry.direct;
    try {
      while (entry.credit > 0 && this.#out.get(id) === entry) {
        const { value, done } = await entry.reader.read();
        if (this.#out.get(id) !== entry) return;
        if (done) {
          this.send({ t: "body-end", to: peer, stream: id, seq: entry.seq++ }, direct);
          this.#finishOut(id);
          return;
        }
        const bytes = value instanceof Uint8Array ? value : new Uint8Array(value as ArrayBuffer);
        for (let at = 0; at < bytes.byteLength; at += CHUNK_BYTES) {
          const data = bytes.subarray(at, Math.min(at + CHUNK_BYTES, bytes.byteLength));
          this.send({ t: "body-chunk", to: peer, stream: id, seq: entry.seq++, data }, direct);
          entry.credit -= data.byteLength;
        }
      }
    } catch (error) {
      if (this.#out.get(id) === entry) {
        this.send({ t: "body-end", to: peer, stream: id, seq: entry.seq++, error: encodeError(error) }, direct);
        this.#finishOut(id);
      }
    } finally {
      entry.pumping = false;
    }
  }

  #cancelIncoming(key: string): void {
    const entry = this.#in.get(key);
    if (entry === undefined) return;
    this.#finishIn(key);
    if (entry.end === null) this.send({ t: "body-cancel", to: entry.peer, stream: entry.stream }, null);
  }

  #finishOut(id: number): void {
    this.#out.delete(id);
    this.#checkIdle();
  }

  #finishIn(key: string): void {
    this.#in.delete(key);
    this.#checkIdle();
  }

  #checkIdle(): void {
    if (this.active > 0 || this.#idle === null) return;
    const idle = this.#idle;
    this.#idle = null;
    idle();
  }
}

function peerGone(): TorporError {
  return new TorporError("ERR_OBJECT_OWNER_EXITED", "The worker process streaming this body exited before its end.");
}
