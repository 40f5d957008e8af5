/**
 * One stream socket carrying structured-clone messages between two cluster
 * processes: each message is a frame (frame-codec.ts: a 4-byte big-endian
 * length, then the bytes of Node's `v8` serializer, the same algorithm Node's
 * "advanced" IPC uses, so RPC values keep the same semantics on both paths).
 * A message may be encoded before it is sent (a `Frame`: a routed call is
 * encoded once, when it is made, whichever path it then takes). Messages sent in one
 * turn of the event loop leave in one write (flushed at the end of the
 * turn), so a burst costs one system call and one wake-up of the peer.
 *
 * A frame longer than `MAX_FRAME_BYTES`, or one that does not deserialize,
 * ends the channel (the peer is broken or not ours): the receiver is told
 * once, through `onClose` with the reason.
 */
import type { Socket } from "node:net";
import { decodeFrame, encodeFrame, Frame } from "./frame-codec.ts";

/** The longest frame accepted (a routed RPC value or a 64 KiB body chunk is far below). */
export const MAX_FRAME_BYTES = 256 * 1024 * 1024;

export class FrameChannel {
  readonly socket: Socket;
  /** Each message received, in order. */
  onMessage: (message: unknown) => void = () => {};
  /** The peer ended its side (it sends nothing more); ours stays open until `end()`. */
  onEnd: () => void = () => {};
  /** Once, when the socket closed (`error`: why, when it was not a clean end). */
  onClose: (error: Error | null) => void = () => {};
  #batch: Buffer[] = [];
  #flushing = false;
  #chunks: Buffer[] = [];
  #buffered = 0;
  #closed = false;
  #ended = false;

  constructor(socket: Socket) {
    this.socket = socket;
    // The peer ending its side does not end ours: replies may still be owed (the closing handshake is worker-channels.ts's).
    socket.allowHalfOpen = true;
    socket.setNoDelay?.(true);
    socket.on("data", (chunk: Buffer) => this.#receive(chunk));
    socket.on("end", () => this.onEnd());
    socket.on("error", (error) => this.#close(error));
    socket.on("close", () => this.#close(null));
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** False once this side ended or the channel closed. */
  get writable(): boolean {
    return !this.#closed && !this.#ended;
  }

  /**
   * Queues a message (encoded now unless it is a `Frame` already); it leaves with the others of this turn. False if
   * the channel is closed (nothing sent). Throws what encoding throws (a value that cannot be cloned).
   */
  send(message: unknown): boolean {
    if (this.#closed || this.#ended) return false;
    this.#batch.push((message instanceof Frame ? message : encodeFrame(message)).bytes);
    if (!this.#flushing) {
      this.#flushing = true;
      setImmediate(() => this.flush());
    }
    return true;
  }

  /** Writes what is queued now (also called before ending the channel). */
  flush(): void {
    this.#flushing = false;
    if (this.#batch.length === 0 || this.#closed) return;
    const batch = this.#batch;
    this.#batch = [];
    // A frame alone (a call, a reply) is written as it is: no copy.
    this.socket.write(batch.length === 1 ? batch[0]! : Buffer.concat(batch));
  }

  /** Sends what is queued, then ends this side (the peer may still write; `onClose` follows once both sides ended). Resolves once written. */
  end(): Promise<void> {
    if (this.#ended || this.#closed) return Promise.resolve();
    this.flush();
    this.#ended = true;
    return new Promise((resolve) => this.socket.end(resolve));
  }

  /** Closes at once (what is queued is dropped). */
  destroy(): void {
    this.#batch = [];
    this.socket.destroy();
  }

  #receive(chunk: Buffer): void {
    this.#chunks.push(chunk);
    this.#buffered += chunk.byteLength;
    while (this.#buffered >= 4 && !this.#closed) {
      let head = this.#chunks[0]!;
      if (head.byteLength < 4) head = this.#join();
      const length = head.readUInt32BE(0);
      if (length > MAX_FRAME_BYTES) {
        this.#fail(new Error(`a frame of ${length} bytes (at most ${MAX_FRAME_BYTES})`));
        return;
      }
      if (this.#buffered < 4 + length) return;
      if (head.byteLength < 4 + length) head = this.#join();
      const frame = head.subarray(4, 4 + length);
      if (head.byteLength === 4 + length) this.#chunks.shift();
      else this.#chunks[0] = head.subarray(4 + length);
      this.#buffered -= 4 + length;
      let message: unknown;
      try {
        message = decodeFrame(frame);
      } catch (error) {
        this.#fail(new Error(`a frame that does not deserialize (${(error as Error).message})`));
        return;
      }
      this.onMessage(message);
    }
  }

  /** Every buffered chunk as one (a frame spans several reads). */
  #join(): Buffer {
    const all = Buffer.concat(this.#chunks, this.#buffered);
    this.#chunks = [all];
    return all;
  }

  #fail(error: Error): void {
    this.socket.destroy();
    this.#close(error);
  }

  #close(error: Error | null): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#batch = [];
    this.#chunks = [];
    this.onClose(error);
  }
}
