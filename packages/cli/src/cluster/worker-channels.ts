/**
 * A worker's direct channels to the other worker processes of its server
 * (one stream socket per pair, made and handed out by the supervisor:
 * channel-broker.ts). A routed call whose owner this process knows goes
 * straight to it and is answered on the same channel: one hop each way
 * instead of two through the supervisor. The supervisor path stays for
 * everything else (an owner not known yet, a slot without an owner, sockets).
 *
 * A channel is named by the peer's serial (unique for the supervisor's life),
 * so a reply can only reach the process that made the call. What the
 * channel carries (`ChannelMessage`) is checked before it is acted on: the
 * Worker's code runs in the peer too.
 *
 * Closing is a handshake, so that no call is lost in a socket buffer when a
 * process exits after a reload: the closing process sends `bye` (and from
 * then on refuses direct calls: the caller sends them through the
 * supervisor); the peer answers `bye-ack` once none of its calls to it is
 * unanswered, and sends it no call after that. The closing process ends the
 * channel once it has every ack (or its wait ran out) and its own work is done.
 */
import type { Socket } from "node:net";
import type { WireRefs } from "@torpor/core/cluster";
import type { ObjectKey } from "@torpor/core/storage";
import { FrameChannel } from "./frame-channel.ts";
import type { Frame } from "./frame-codec.ts";
import type { CallOp } from "./ipc.ts";
import { parseChannelMessage } from "./ipc-validation.ts";
import type { WireError } from "./wire.ts";

/** A routed call on a channel (the caller is the channel's peer). */
export type ChannelCall = { t: "call"; rid: number; key: ObjectKey } & CallOp;

/** What one worker sends another on their channel. */
export type ChannelMessage =
  | ChannelCall
  | { t: "reply"; rid: number; ok: true; value: unknown; refs?: WireRefs }
  | { t: "reply"; rid: number; ok: false; error: WireError }
  /** This process does not own the call's object (any more): it did not run; send it through the supervisor. */
  | { t: "not-here"; rid: number }
  | { t: "body-chunk"; stream: number; seq: number; data: Uint8Array }
  | { t: "body-end"; stream: number; seq: number; error?: WireError }
  | { t: "body-credit"; stream: number; bytes: number }
  | { t: "body-cancel"; stream: number }
  /** The sender is closing: no new calls to it. */
  | { t: "bye" }
  /** No call of the sender is unanswered, and it sends no more. */
  | { t: "bye-ack" };

/** A body message as BodyStreams reads it (`from`: the peer). */
export type ChannelBodyMessage = Extract<ChannelMessage, { t: `body-${string}` }> & { from: number };

/** What a worker does with what arrives on its channels. */
export interface ChannelHandlers {
  call(peer: number, message: ChannelCall): void;
  reply(peer: number, message: Extract<ChannelMessage, { t: "reply" }>): void;
  notHere(peer: number, rid: number): void;
  body(message: ChannelBodyMessage): void;
  /**
   * The channel to `peer` is gone (the peer exited, or it closed the channel after the handshake): its calls in flight
   * failed. `stopping`: the peer said bye first (it is stopping, and may still be running).
   */
  closed(peer: number, error: Error | null, stopping: boolean): void;
  /** A message that is not one (logged by the worker; the channel stays). */
  invalid(peer: number, reason: string): void;
}

interface Peer {
  channel: FrameChannel;
  /** Our direct calls to it not yet answered (or refused). */
  calls: number;
  /** It said bye: no new calls to it; ack once `calls` is 0. */
  byeReceived: boolean;
  ackSent: boolean;
  /** We said bye and it acked (or the channel closed). */
  acked: boolean;
}

/** How long a closing process waits for its peers' acks before it ends the channels anyway. */
const ACK_WAIT_MS = 5_000;

export class WorkerChannels {
  readonly #peers = new Map<number, Peer>();
  #closing = false;
  #ackWaiters: Array<() => void> = [];

  constructor(readonly handlers: ChannelHandlers) {}

  /** True once this process said bye: direct calls arriving now are refused (`not-here`). */
  get closing(): boolean {
    return this.#closing;
  }

  /** A channel to process `peer`, given by the supervisor. */
  add(peer: number, socket: Socket): void {
    if (this.#peers.has(peer) || !Number.isSafeInteger(peer) || peer <= 0) {
      socket.destroy();
      return;
    }
    const channel = new FrameChannel(socket);
    const entry: Peer = { channel, calls: 0, byeReceived: false, ackSent: false, acked: false };
    this.#peers.set(peer, entry);
    channel.onMessage = (message) => this.#receive(peer, entry, message);
    // The peer sends nothing more: once we owe it nothing either (it ends only after our ack, or it is gone), we end too.
    channel.onEnd = () => void channel.end();
    channel.onClose = (error) => {
      if (this.#peers.get(peer) === entry) this.#peers.delete(peer);
      entry.acked = true;
      this.#checkAcks();
      this.handlers.closed(peer, error, entry.byeReceived);
    };
    if (this.#closing) channel.send({ t: "bye" } satisfies ChannelMessage);
  }

  /** True when a new call may go to `peer` directly. */
  usable(peer: number): boolean {
    const entry = this.#peers.get(peer);
    return entry !== undefined && !entry.byeReceived && entry.channel.writable;
  }

  /** Sends a call (encoded) to `peer` (also while it is closing, for calls that must follow earlier ones there: they come back refused). False if the channel is gone. */
  call(peer: number, message: Frame): boolean {
    const entry = this.#peers.get(peer);
    if (entry === undefined || entry.ackSent || !entry.channel.send(message)) return false;
    entry.calls++;
    return true;
  }

  /** Sends a reply (maybe encoded already), a refusal or a body message to `peer`; false if the channel is gone. */
  send(peer: number, message: ChannelMessage | Frame): boolean {
    return this.#peers.get(peer)?.channel.send(message) ?? false;
  }

  /** Says bye on every channel (and on those that come later): from now on direct calls are refused. */
  beginClose(): void {
    if (this.#closing) return;
    this.#closing = true;
    for (const entry of this.#peers.values()) entry.channel.send({ t: "bye" } satisfies ChannelMessage);
  }

  /** After `beginClose` and once this process's own work is done: waits for the acks (bounded), then ends every channel. */
  async finish(waitMs = ACK_WAIT_MS): Promise<void> {
    this.beginClose();
    if (![...this.#peers.values()].every((p) => p.acked)) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, waitMs);
        timer.unref();
        this.#ackWaiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    await Promise.all([...this.#peers.values()].map((p) => withTimeout(p.channel.end(), waitMs)));
  }

  /** Closes every channel at once (the process is going away without the handshake). */
  destroy(): void {
    for (const entry of this.#peers.values()) entry.channel.destroy();
  }

  #receive(peer: number, entry: Peer, raw: unknown): void {
    const parsed = parseChannelMessage(raw);
    if (!parsed.ok) {
      this.handlers.invalid(peer, parsed.reason);
      return;
    }
    const message = parsed.message;
    switch (message.t) {
      case "call":
        this.handlers.call(peer, message);
        return;
      case "reply":
        this.#answered(entry);
        this.handlers.reply(peer, message);
        return;
      case "not-here":
        this.#answered(entry);
        this.handlers.notHere(peer, message.rid);
        return;
      case "bye":
        entry.byeReceived = true;
        this.#maybeAck(entry);
        return;
      case "bye-ack":
        entry.acked = true;
        this.#checkAcks();
        return;
      default:
        this.handlers.body({ ...message, from: peer });
    }
  }

  #answered(entry: Peer): void {
    if (entry.calls > 0) entry.calls--;
    this.#maybeAck(entry);
  }

  #maybeAck(entry: Peer): void {
    if (!entry.byeReceived || entry.ackSent || entry.calls > 0) return;
    entry.ackSent = true;
    entry.channel.send({ t: "bye-ack" } satisfies ChannelMessage);
  }

  #checkAcks(): void {
    if (!this.#closing || ![...this.#peers.values()].every((p) => p.acked)) return;
    const waiters = this.#ackWaiters;
    this.#ackWaiters = [];
    for (const w of waiters) w();
  }
}

function withTimeout(promise: Promise<void>, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    timer.unref();
    void promise.then(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}
