/**
 * The addon itself: built at install here (CI has a compiler), descriptors
 * across a SOCK_SEQPACKET pair many at a time, a full queue reported instead
 * of blocking.
 */
import { closeSync, openSync, readSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, it } from "vitest";
import { loadNative, MAX_FDS_PER_PACKET } from "../src/index.ts";

it("is built and passes 253 descriptors in one packet; a full queue says false instead of blocking", () => {
  const loaded = loadNative().fdPassing;
  expect(loaded.ok ? null : loaded.error.message).toBeNull();
  if (!loaded.ok) return;
  const addon = loaded.binding;
  const file = join(tmpdir(), `torpor-fd-passing-${process.pid}`);
  writeFileSync(file, "x");
  const [a, b] = addon.socketPair();
  const fds = Int32Array.from({ length: MAX_FDS_PER_PACKET }, () => openSync(file, "r"));
  expect(addon.send(a, Uint8Array.of(7), fds)).toBe(true);
  for (const fd of fds) closeSync(fd);
  const buffer = new Uint8Array(16);
  const got = addon.receive(b, buffer)!;
  expect(got.length).toBe(1);
  expect(buffer[0]).toBe(7);
  expect(got.fds).toHaveLength(MAX_FDS_PER_PACKET);
  const one = Buffer.alloc(1);
  expect(readSync(got.fds[100]!, one, 0, 1, 0)).toBe(1);
  for (const fd of got.fds) closeSync(fd);
  expect(addon.receive(b, buffer)).toBeNull();
  let sent = 0;
  while (addon.send(a, new Uint8Array(1024), new Int32Array(0))) sent++;
  expect(sent).toBeGreaterThan(0);
  expect(() => addon.send(a, new Uint8Array(1), new Int32Array(MAX_FDS_PER_PACKET + 1))).toThrow(RangeError);
  addon.closeFd(b);
  // The peer is gone (with packets it never read: ECONNRESET; else EPIPE).
  let error: NodeJS.ErrnoException | null = null;
  try {
    addon.send(a, new Uint8Array(1), new Int32Array(0));
  } catch (caught) {
    error = caught as NodeJS.ErrnoException;
  }
  expect(["EPIPE", "ECONNRESET"]).toContain(error?.code);
  addon.closeFd(a);
});
