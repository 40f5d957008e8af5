/**
 * FrameChannel over a real Unix stream socket pair (a listener in a temp
 * dir): frames cut across reads however the bytes arrive, large frames,
 * the frame size limit and undecodable frames ending the channel, and the
 * end / destroy / error paths each reporting the close once.
 */
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { createConnection, createServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { serialize } from "node:v8";
import { afterEach, describe, expect, it, vi } from "vitest";
import { FrameChannel, MAX_FRAME_BYTES } from "../src/cluster/frame-channel.ts";
import { encodeFrame } from "../src/cluster/frame-codec.ts";

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0).reverse()) c();
});

/** Two connected ends of a Unix stream socket. */
async function socketPair(): Promise<[Socket, Socket]> {
  const dir = mkdtempSync(join(tmpdir(), "torpor-frames-"));
  const server = createServer();
  server.listen(join(dir, "s"));
  await once(server, "listening");
  const accepted = once(server, "connection") as Promise<[Socket]>;
  const client = createConnection(join(dir, "s"));
  await once(client, "connect");
  const [peer] = await accepted;
  cleanups.push(() => {
    client.destroy();
    peer.destroy();
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return [client, peer];
}

/** A channel on `socket`, recording what it is told. */
function recorded(socket: Socket) {
  const channel = new FrameChannel(socket);
  const messages: unknown[] = [];
  const closes: Array<Error | null> = [];
  channel.onMessage = (m) => messages.push(m);
  channel.onClose = (e) => closes.push(e);
  const ended = new Promise<void>((resolve) => {
    channel.onEnd = resolve;
  });
  return { channel, messages, closes, ended };
}

/** A recorded channel on one end; the other end stays a raw socket. */
async function channelAndRaw() {
  const [a, raw] = await socketPair();
  // Read (and so see the end of) whatever the channel writes.
  raw.resume();
  const rawClosed = once(raw, "close");
  return { ...recorded(a), raw, rawClosed };
}

/** A recorded channel on each end. */
async function channelPair() {
  const [a, b] = await socketPair();
  return [recorded(a), recorded(b)] as const;
}

/** A frame as the wire carries it: a 4-byte big-endian length, then v8.serialize's bytes. */
function wireFrame(message: unknown): Buffer {
  const body = serialize(message);
  const head = Buffer.alloc(4);
  head.writeUInt32BE(body.byteLength, 0);
  return Buffer.concat([head, body]);
}

/** Writes `bytes` and waits until the channel's socket has read them all (each piece arrives as its own read). */
async function deliver(raw: Socket, to: Socket, bytes: Buffer): Promise<void> {
  let left = bytes.byteLength;
  const arrived = new Promise<void>((resolve) => {
    const onData = (chunk: Buffer) => {
      left -= chunk.byteLength;
      if (left > 0) return;
      to.off("data", onData);
      resolve();
    };
    to.on("data", onData);
  });
  raw.write(bytes);
  await arrived;
}

const waitFor = (check: () => void) => vi.waitFor(check, { timeout: 20_000, interval: 10 });

describe("FrameChannel", () => {
  it("reads frames cut anywhere: inside the length, inside the body, several in one read", async () => {
    const { channel, raw, messages } = await channelAndRaw();
    const sent = [{ t: "call", rid: 1, args: ["é".repeat(50)] }, new Uint8Array([1, 2, 3]), "x", { map: new Map([[1, 2n]]) }];
    const bytes = Buffer.concat(sent.map(wireFrame));
    // Cut points: two bytes into the first length, in the first body, across the second and third frames, one byte at the end.
    const cuts = [2, 9, wireFrame(sent[0]).byteLength + 3, bytes.byteLength - 1, bytes.byteLength];
    let from = 0;
    for (const to of cuts) {
      await deliver(raw, channel.socket, bytes.subarray(from, to));
      from = to;
      // Nothing is handed on before its last byte arrived.
      expect(messages.length).toBeLessThanOrEqual(sent.length);
    }
    expect(messages).toEqual(sent);
  });

  it("reads a frame one byte at a time", async () => {
    const { channel, raw, messages } = await channelAndRaw();
    const bytes = wireFrame({ t: "reply", rid: 7, ok: true, value: [1, 2, 3] });
    for (let i = 0; i < bytes.byteLength; i++) {
      expect(messages).toEqual([]);
      await deliver(raw, channel.socket, bytes.subarray(i, i + 1));
    }
    expect(messages).toEqual([{ t: "reply", rid: 7, ok: true, value: [1, 2, 3] }]);
  });

  it("writes a 4-byte big-endian length, then what v8.serialize writes", async () => {
    const { channel, raw } = await channelAndRaw();
    const received: Buffer[] = [];
    raw.on("data", (chunk: Buffer) => received.push(chunk));
    const first = { t: "call", rid: 1, key: { namespace: "N", id: "a".repeat(64) }, op: "read", property: "p" };
    const second = new Float64Array([1.5, 2.5]);
    expect(channel.send(first)).toBe(true);
    expect(channel.send(second)).toBe(true);
    const expected = Buffer.concat([wireFrame(first), wireFrame(second)]);
    await waitFor(() => expect(Buffer.concat(received).byteLength).toBe(expected.byteLength));
    expect(Buffer.concat(received).equals(expected)).toBe(true);
  });

  it("a message encoded beforehand (a Frame) goes out as it was then, as often as it is sent", async () => {
    const [{ channel: left }, { messages: got }] = await channelPair();
    const value = { n: 1, list: [1] };
    const frame = encodeFrame({ t: "call", rid: 1, args: [value] });
    value.n = 2;
    value.list.push(2);
    expect(left.send(frame)).toBe(true);
    expect(left.send({ t: "call", rid: 2, args: [value] })).toBe(true);
    expect(left.send(frame)).toBe(true);
    await waitFor(() => expect(got).toHaveLength(3));
    expect(got).toEqual([
      { t: "call", rid: 1, args: [{ n: 1, list: [1] }] },
      { t: "call", rid: 2, args: [{ n: 2, list: [1, 2] }] },
      { t: "call", rid: 1, args: [{ n: 1, list: [1] }] },
    ]);
  });

  it("typed arrays read back own their memory (not the read's, which holds other frames); a Buffer comes back a Uint8Array, as a structured clone", async () => {
    const { channel, raw, messages } = await channelAndRaw();
    const sent = [{ u: new Uint8Array([1, 2, 3]) }, { d: new Float64Array([0.5]), v: new DataView(new ArrayBuffer(8), 2, 4) }];
    // Both frames in one read.
    await deliver(raw, channel.socket, Buffer.concat(sent.map(wireFrame)));
    expect(messages).toEqual(sent);
    const [first, second] = messages as [{ u: Uint8Array }, { d: Float64Array; v: DataView }];
    for (const view of [first.u, second.d, second.v]) {
      expect(view.byteOffset).toBe(0);
      expect(view.buffer.byteLength).toBe(view.byteLength);
    }
    // A Buffer (which Node's serializer would bring back as one), sent by a channel.
    const [{ channel: left }, { messages: got }] = await channelPair();
    left.send({ b: Buffer.from([7, 8]) });
    await waitFor(() => expect(got).toHaveLength(1));
    const { b } = got[0] as { b: Uint8Array };
    expect(Buffer.isBuffer(b)).toBe(false);
    expect(b).toEqual(new Uint8Array([7, 8]));
  });

  it("carries large frames and long bursts between two channels, in order", async () => {
    const [{ channel: left }, { messages: got }] = await channelPair();
    const big = new Uint8Array(8 * 1024 * 1024);
    for (let i = 0; i < big.length; i += 4096) big[i] = (i / 4096) & 0xff;
    left.send({ t: "body-chunk", stream: 1, seq: 0, data: big });
    for (let i = 0; i < 2_000; i++) left.send({ t: "body-credit", stream: 1, bytes: i + 1 });
    left.send({ t: "body-end", stream: 1, seq: 1 });
    await waitFor(() => expect(got).toHaveLength(2_002));
    const first = got[0] as { data: Uint8Array };
    expect(first.data.byteLength).toBe(big.byteLength);
    expect(Buffer.from(first.data.buffer, first.data.byteOffset, first.data.byteLength).equals(Buffer.from(big.buffer))).toBe(true);
    expect(got.slice(1, -1).map((m) => (m as { bytes: number }).bytes)).toEqual(Array.from({ length: 2_000 }, (_, i) => i + 1));
    expect(got.at(-1)).toEqual({ t: "body-end", stream: 1, seq: 1 });
  });

  it("a frame longer than the limit ends the channel with the reason, once, before its body arrives", async () => {
    const { channel, raw, rawClosed, messages, closes } = await channelAndRaw();
    await deliver(raw, channel.socket, wireFrame("before"));
    const head = Buffer.alloc(4);
    head.writeUInt32BE(MAX_FRAME_BYTES + 1, 0);
    raw.write(head);
    await waitFor(() => expect(closes).toHaveLength(1));
    expect(closes[0]?.message).toBe(`a frame of ${MAX_FRAME_BYTES + 1} bytes (at most ${MAX_FRAME_BYTES})`);
    expect(messages).toEqual(["before"]);
    expect(channel.closed).toBe(true);
    expect(channel.writable).toBe(false);
    expect(channel.send("after")).toBe(false);
    // The peer sees the channel go.
    await rawClosed;
    expect(closes).toHaveLength(1);
  });

  it("a frame that does not deserialize ends the channel with the reason", async () => {
    const { channel, raw, rawClosed, messages, closes } = await channelAndRaw();
    raw.write(Buffer.from([0, 0, 0, 3, 0xff, 0x00, 0x42]));
    raw.write(wireFrame("never read"));
    await waitFor(() => expect(closes).toHaveLength(1));
    expect(closes[0]?.message).toMatch(/^a frame that does not deserialize \(/);
    expect(messages).toEqual([]);
    expect(channel.closed).toBe(true);
    await rawClosed;
  });

  it("the peer ending its side is told (onEnd) and ours stays writable until end(); then the close is clean", async () => {
    const [{ channel: left, closes: leftCloses, messages: got }, { channel: right, closes: rightCloses, ended }] = await channelPair();
    left.send("last from left");
    await left.end();
    expect(left.writable).toBe(false);
    expect(left.send("too late")).toBe(false);
    await ended;
    // Half open: the side that was ended may still answer.
    expect(right.writable).toBe(true);
    expect(right.send("reply after the peer's end")).toBe(true);
    await right.end();
    await waitFor(() => expect([leftCloses, rightCloses]).toEqual([[null], [null]]));
    expect(got).toEqual(["reply after the peer's end"]);
  });

  it("destroy drops what is queued; the peer is told the end, and closes once it ends too; each side reports it once", async () => {
    const [{ channel: left, closes: leftCloses }, { channel: right, closes: rightCloses, messages: got, ended }] = await channelPair();
    left.send("queued, never written");
    left.destroy();
    await ended;
    await waitFor(() => expect(leftCloses).toEqual([null]));
    expect(rightCloses).toEqual([]);
    await right.end();
    await waitFor(() => expect(rightCloses).toHaveLength(1));
    expect(got).toEqual([]);
    expect(right.send("to nobody")).toBe(false);
    left.destroy();
    expect(leftCloses).toHaveLength(1);
  });

  it("a socket error closes the channel once, with the error", async () => {
    const { channel, closes } = await channelAndRaw();
    // Not events.once: it rejects on the "error" this test causes.
    const socketClosed = new Promise((resolve) => channel.socket.once("close", resolve));
    channel.send("queued");
    channel.socket.destroy(new Error("boom"));
    await socketClosed;
    expect(closes).toHaveLength(1);
    expect(closes[0]?.message).toBe("boom");
    expect(channel.send("after")).toBe(false);
  });
});
