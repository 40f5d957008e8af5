/**
 * The descriptor channel (src/cluster/fd-channel.ts) over a real Unix
 * SOCK_SEQPACKET pair and the addon's fd passing: messages larger than a packet,
 * more messages than the peer's queue holds (the sender waits for writable),
 * descriptors that arrive as working descriptors of the same open file, and
 * a peer that writes what is not ours.
 */
import { closeSync, fstatSync, mkdtempSync, openSync, readSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadNative } from "@torpor/native";
import { afterAll, describe, expect, it } from "vitest";
import { FdChannel, MAX_FDS, PACKET_BYTES } from "../src/cluster/fd-channel.ts";

const loaded = loadNative().fdPassing;
if (!loaded.ok) throw loaded.error;
const addon = loaded.binding;
const dir = mkdtempSync(join(tmpdir(), "torpor-fd-channel-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function pair(): [FdChannel, FdChannel] {
  const [a, b] = addon.socketPair();
  return [new FdChannel(addon, a), new FdChannel(addon, b)];
}

/** Resolves with the next `n` messages `channel` receives. */
function receive(channel: FdChannel, n: number): Promise<Array<{ message: unknown; fds: number[] }>> {
  const got: Array<{ message: unknown; fds: number[] }> = [];
  return new Promise((resolve) => {
    channel.onMessage = (message, fds) => {
      got.push({ message, fds });
      if (got.length === n) resolve(got);
    };
  });
}

describe("FdChannel", () => {
  it("carries many messages with descriptors, in order, past the peer's queue and across packets", async () => {
    const [tx, rx] = pair();
    const file = join(dir, "data");
    writeFileSync(file, "payload");
    const count = 400;
    const sent: number[] = [];
    const arrived = receive(rx, count);
    for (let i = 0; i < count; i++) {
      const fds = Array.from({ length: i % 50 === 0 ? MAX_FDS : 1 }, () => openSync(file, "r"));
      // Every seventh message spans several packets.
      tx.send({ i, pad: "x".repeat(i % 7 === 0 ? PACKET_BYTES * 2 + 3 : 8) }, fds, (ok) => {
        sent.push(ok ? 1 : 0);
        for (const fd of fds) closeSync(fd);
      });
    }
    const got = await arrived;
    expect(got.map((g) => (g.message as { i: number }).i)).toEqual(Array.from({ length: count }, (_, i) => i));
    expect(got.map((g) => g.fds.length)).toEqual(Array.from({ length: count }, (_, i) => (i % 50 === 0 ? MAX_FDS : 1)));
    expect((got[7]!.message as { pad: string }).pad).toHaveLength(PACKET_BYTES * 2 + 3);
    expect(sent).toEqual(new Array(count).fill(1));
    // A received descriptor is the same open file (the sender's copies are closed by now).
    const buf = Buffer.alloc(7);
    readSync(got[3]!.fds[0]!, buf, 0, 7, 0);
    expect(buf.toString()).toBe("payload");
    for (const g of got) for (const fd of g.fds) closeSync(fd);
    tx.close();
    rx.close();
  });

  it("closes on a packet that is not ours, and closes what it carried", async () => {
    const [a, b] = addon.socketPair();
    const rx = new FdChannel(addon, b);
    const closed = new Promise<Error | null>((resolve) => (rx.onClose = resolve));
    const fd = openSync(join(dir, "stray"), "w");
    // A continuation packet (kind 2) with no message before it, carrying a descriptor.
    expect(addon.send(a, Uint8Array.of(2, 1, 2, 3), Int32Array.of(fd))).toBe(true);
    closeSync(fd);
    expect((await closed)?.message).toMatch(/a continuation without its message/);
    expect(rx.closed).toBe(true);
    addon.closeFd(a);
  });

  it("tells the sender when the peer is gone: what was queued reports not sent", async () => {
    const [tx, rx] = pair();
    rx.close();
    const closed = new Promise<Error | null>((resolve) => (tx.onClose = resolve));
    const outcome = new Promise<boolean>((resolve) => tx.send({ hello: 1 }, [], resolve));
    expect(await outcome).toBe(false);
    expect(((await closed) as NodeJS.ErrnoException).code).toBe("EPIPE");
    // A descriptor handed to a closed channel is the caller's to close (sent says false at once).
    const fd = openSync(join(dir, "late"), "w");
    expect(await new Promise<boolean>((resolve) => tx.send({}, [fd], resolve))).toBe(false);
    expect(fstatSync(fd).isFile()).toBe(true);
    closeSync(fd);
  });

  it("reads the end when the peer closes", async () => {
    const [tx, rx] = pair();
    const closed = new Promise<Error | null>((resolve) => (rx.onClose = resolve));
    const arrived = receive(rx, 1);
    tx.send({ last: true });
    tx.close();
    expect((await arrived)[0]!.message).toEqual({ last: true });
    expect(await closed).toBeNull();
  });

  it("a peer that goes away in the middle of a message reads as the end: the half message and its descriptors are dropped", async () => {
    const [a, b] = addon.socketPair();
    const rx = new FdChannel(addon, b);
    let messages = 0;
    rx.onMessage = () => messages++;
    const closed = new Promise<Error | null>((resolve) => (rx.onClose = resolve));
    const fd = openSync(join(dir, "half"), "w");
    // The first packet of a 100-byte message, with a descriptor; the rest never comes.
    const first = Buffer.alloc(10);
    first[0] = 1;
    first.writeUInt32BE(100, 1);
    expect(addon.send(a, first, Int32Array.of(fd))).toBe(true);
    closeSync(fd);
    addon.closeFd(a);
    expect(await closed).toBeNull();
    expect(messages).toBe(0);
  });
});
