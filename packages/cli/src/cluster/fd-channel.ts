/**
 * Messages with many descriptors each, between the supervisor and one worker:
 * a Unix SOCK_SEQPACKET socket (one end inherited by the worker as fd 5) read
 * and written through the addon's fd passing (packages/native), which polls
 * it on the event loop. A reload moves thousands of sockets through it, a few
 * hundred descriptors per message, where Node's IPC passes one descriptor per
 * message and the next only after the peer acknowledged the last (a process
 * round trip per socket: bench/CLUSTER.md, "Reloads").
 *
 * A message is `v8.serialize`d and cut into packets of at most PACKET_BYTES:
 * the first (kind 1) carries the total length and the descriptors, the rest
 * (kind 2) only bytes; packets of one direction are written by one process
 * in order, so they never interleave. Neither side ever waits: a full queue
 * at the peer leaves packets queued here until the socket is writable, and a
 * read takes at most READS_PER_TURN packets before it lets the loop run.
 *
 * Descriptors are the caller's until their message left (`sent`, called once
 * either way: the caller then closes its copies); received ones are the
 * receiver's. A packet that breaks these rules (a continuation without a
 * first, a message that does not deserialize) closes the channel: the peer is
 * broken, or not ours (the Worker's code runs in the worker and can write to
 * fd 5), and what was on the way is closed so no client waits on a ghost.
 */
import { deserialize, serialize } from "node:v8";
import type { Clock, TimerHandle } from "@torpor/core";
import { systemClock } from "@torpor/core/clock";
import type { FdPassing, Watcher } from "@torpor/native";

/** Bytes per packet at most: well under the socket's send buffer (a SOCK_SEQPACKET packet must fit it whole). */
export const PACKET_BYTES = 32 * 1024;
/** Descriptors per message at most (the kernel's SCM_MAX_FD is 253). */
export const MAX_FDS = 250;
/**
 * Packets read per readable notification at most; reading also stops after one whole message (a batch of 250
 * sockets to adopt is tens of milliseconds of work), so the event loop gets its turn between messages. The poll is
 * level-triggered: what is left comes on the next turn.
 */
const READS_PER_TURN = 32;
/**
 * How long a sender waits before it tries again when the kernel refused a message because its user has more
 * descriptors in flight than its open-files limit (ETOOMANYREFS: not for root). Descriptors leave the count only
 * as the peer reads them, which no poll reports on this side, so the retry is timed.
 */
export const IN_FLIGHT_RETRY_MS = 5;
const FIRST = 1;
const MORE = 2;
const READABLE = 1;
const WRITABLE = 2;

interface Outgoing {
  packet: Buffer;
  fds: Int32Array;
  /** Called once, when the message's last packet left (true) or the channel closed first (false). */
  sent?: (ok: boolean) => void;
}

const NO_FDS = new Int32Array(0);

export class FdChannel {
  /** Each message received, with its descriptors (the receiver's to use or close). */
  onMessage: (message: unknown, fds: number[]) => void = () => {};
  /** Once, when the channel closed: the peer ended it (null) or it broke (why). */
  onClose: (error: Error | null) => void = () => {};
  readonly #fd: number;
  readonly #addon: FdPassing;
  readonly #watcher: Watcher;
  readonly #queue: Outgoing[] = [];
  readonly #buffer = Buffer.allocUnsafe(PACKET_BYTES + 8);
  /** The message being received: its length, its parts so far and its descriptors. */
  #incoming: { total: number; parts: Buffer[]; got: number; fds: number[] } | null = null;
  #events = 0;
  #closed = false;
  readonly #clock: Clock;
  /** Set while the kernel refuses more descriptors in flight: the flush that will try again. */
  #retry: TimerHandle | null = null;

  constructor(addon: FdPassing, fd: number, clock: Clock = systemClock) {
    this.#addon = addon;
    this.#fd = fd;
    this.#clock = clock;
    this.#watcher = addon.watch(fd, (status, events) => this.#ready(status, events));
    this.#poll(READABLE);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Messages (and packets) waiting for the peer to read. */
  get queued(): number {
    return this.#queue.length;
  }

  /**
   * Queues `message` with `fds` (at most MAX_FDS) and sends what the peer can take now. `sent` is called once,
   * when it left (true) or could not (false: the channel closed); the caller closes its copies of `fds` then.
   */
  send(message: unknown, fds: readonly number[] = [], sent?: (ok: boolean) => void): void {
    if (fds.length > MAX_FDS) throw new RangeError(`At most ${MAX_FDS} descriptors per message (${fds.length}).`);
    if (this.#closed) {
      sent?.(false);
      return;
    }
    const body = serialize(message);
    let offset = 0;
    for (let first = true; first || offset < body.byteLength; first = false) {
      const take = Math.min(PACKET_BYTES, body.byteLength - offset);
      const head = Buffer.allocUnsafe(first ? 5 : 1);
      head[0] = first ? FIRST : MORE;
      if (first) head.writeUInt32BE(body.byteLength, 1);
      const packet = Buffer.concat([head, body.subarray(offset, offset + take)]);
      offset += take;
      const last = offset >= body.byteLength;
      this.#queue.push({ packet, fds: first && fds.length > 0 ? Int32Array.from(fds) : NO_FDS, ...(last && sent !== undefined ? { sent } : {}) });
    }
    this.#flush();
  }

  /** Closes the channel: what was queued is not sent (its `sent` says false), what was half received is closed. */
  close(error: Error | null = null): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#retry?.cancel();
    this.#retry = null;
    this.#addon.pollClose(this.#watcher);
    this.#addon.closeFd(this.#fd);
    for (const out of this.#queue.splice(0)) out.sent?.(false);
    if (this.#incoming !== null) this.closeFds(this.#incoming.fds);
    this.#incoming = null;
    this.onClose(error);
  }

  #flush(): void {
    if (this.#retry !== null) return;
    while (this.#queue.length > 0 && !this.#closed) {
      const out = this.#queue[0]!;
      let ok: boolean;
      try {
        ok = this.#addon.send(this.#fd, out.packet, out.fds);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "ETOOMANYREFS") {
          // Not broken: the peer has not read enough yet. Closing here would close every socket still queued.
          this.#poll(READABLE);
          this.#retry = this.#clock.setTimeout(() => {
            this.#retry = null;
            this.#flush();
          }, IN_FLIGHT_RETRY_MS);
          return;
        }
        // EPIPE, ECONNRESET: the peer is gone.
        this.close(error as Error);
        return;
      }
      if (!ok) {
        this.#poll(READABLE | WRITABLE);
        return;
      }
      this.#queue.shift();
      out.sent?.(true);
    }
    if (!this.#closed) this.#poll(READABLE);
  }

  #poll(events: number): void {
    if (this.#events === events) return;
    this.#events = events;
    this.#addon.pollStart(this.#watcher, events);
  }

  #ready(status: number, events: number): void {
    if (this.#closed) return;
    if (status < 0) {
      this.close(new Error(`Polling the descriptor channel failed (${status}).`));
      return;
    }
    if (events & WRITABLE) this.#flush();
    // Readable, or the peer hung up (what it sent before is still read, then the end).
    if (events & ~WRITABLE) this.#read();
  }

  #read(): void {
    for (let i = 0; i < READS_PER_TURN && !this.#closed; i++) {
      let packet: { length: number; fds: number[] } | null;
      try {
        packet = this.#addon.receive(this.#fd, this.#buffer);
      } catch (error) {
        this.close(error as Error);
        return;
      }
      if (packet === null) return;
      if (packet.length === 0) {
        // The peer closed its end (it exited, perhaps in the middle of a message: what came of that is closed).
        this.closeFds(packet.fds);
        this.close();
        return;
      }
      const taken = this.#take(this.#buffer.subarray(0, packet.length), packet.fds);
      if (typeof taken === "string") {
        this.close(new Error(`Invalid packet on the descriptor channel: ${taken}.`));
        return;
      }
      if (taken) return;
    }
  }

  /** Adds one packet to the message being received: true when that delivered it, false when more is to come, the reason when the packet breaks the framing. */
  #take(packet: Buffer, fds: number[]): string | boolean {
    const kind = packet[0];
    if (kind === FIRST) {
      if (this.#incoming !== null || packet.length < 5) {
        this.closeFds(fds);
        return this.#incoming !== null ? "a new message inside another" : "a short first packet";
      }
      this.#incoming = { total: packet.readUInt32BE(1), parts: [], got: 0, fds };
      packet = packet.subarray(5);
    } else if (kind !== MORE || this.#incoming === null || fds.length > 0) {
      this.closeFds(fds);
      return "a continuation without its message";
    } else packet = packet.subarray(1);
    const incoming = this.#incoming!;
    // Copied: the receive buffer is reused for the next packet.
    incoming.parts.push(Buffer.from(packet));
    incoming.got += packet.length;
    if (incoming.got > incoming.total) return "a message longer than it said";
    if (incoming.got < incoming.total) return false;
    this.#incoming = null;
    let message: unknown;
    try {
      message = deserialize(incoming.parts.length === 1 ? incoming.parts[0]! : Buffer.concat(incoming.parts));
    } catch (error) {
      this.closeFds(incoming.fds);
      return `a message that does not deserialize (${(error as Error).message})`;
    }
    this.onMessage(message, incoming.fds);
    return true;
  }

  /** Closes descriptors received here that nobody will use. */
  closeFds(fds: readonly number[]): void {
    for (const fd of fds) {
      try {
        this.#addon.closeFd(fd);
      } catch {
        // Already closed (EBADF): nothing to release.
      }
    }
  }
}
