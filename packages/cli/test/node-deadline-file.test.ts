/**
 * The fence of a worker reads the deadline its supervisor wrote last before it
 * closes (multinode-fence-busy-ipc.test.ts shows why, with real processes).
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { silentLogger } from "@torpor/core";
import { monotonicNow } from "@torpor/postgres/clock";
import { describe, expect, it, onTestFinished } from "vitest";
import { DeadlineFile, readDeadline } from "../src/cluster/node-deadline-file.ts";
import { NodeFence } from "../src/cluster/node-fence.ts";

function scratch(): string {
  const dir = mkdtempSync(join(tmpdir(), "torpor-deadline-"));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A serving worker's fence whose own deadline passed, reading `file`'s deadlines. */
function passedFence(source: DeadlineFile["source"]) {
  const reasons: string[] = [];
  const fence = new NodeFence(0, () => readDeadline(source));
  fence.onFence((reason) => reasons.push(reason));
  fence.update(monotonicNow() - 1);
  return { fence, reasons };
}

describe("the lease deadline a supervisor writes for its workers", () => {
  it("keeps a worker's fence open when the supervisor renewed the lease and the message has not arrived", () => {
    const file = new DeadlineFile(join(scratch(), "node-deadline"), silentLogger);
    const later = monotonicNow() + 60_000;
    file.write(later);
    const { fence, reasons } = passedFence(file.source);
    expect(fence.valid()).toBe(true);
    expect(fence.deadline).toBe(later);
    expect(reasons).toEqual([]);
  });

  it("before the node joined (deadline 0 in the file and in the fence) nothing leaves and the fence stays open", () => {
    const file = new DeadlineFile(join(scratch(), "node-deadline"), silentLogger);
    const fence = new NodeFence(0, () => readDeadline(file.source));
    const reasons: string[] = [];
    fence.onFence((reason) => reasons.push(reason));
    expect(fence.valid()).toBe(false);
    expect(fence.fenced).toBe(false);
    expect(reasons).toEqual([]);
  });

  it("a serving worker that has not joined yet (deadline 0) takes the first deadline from the file when its message waits", () => {
    const file = new DeadlineFile(join(scratch(), "node-deadline"), silentLogger);
    const fence = new NodeFence(0, () => readDeadline(file.source));
    fence.onFence(() => {});
    expect(fence.valid()).toBe(false);
    // The node joined: the supervisor wrote the deadline, and the table carrying it waits behind passed sockets.
    const first = monotonicNow() + 60_000;
    file.write(first);
    expect(fence.valid()).toBe(true);
    expect(fence.deadline).toBe(first);
  });

  it("closes the fence when the written deadline passed too", () => {
    const file = new DeadlineFile(join(scratch(), "node-deadline"), silentLogger);
    file.write(monotonicNow() - 0.5);
    const { fence, reasons } = passedFence(file.source);
    expect(fence.valid()).toBe(false);
    expect(reasons).toEqual(["the node's lease deadline passed"]);
  });

  it("ignores a deadline written by another supervisor of the same data directory", () => {
    const dir = scratch();
    const mine = new DeadlineFile(join(dir, "node-deadline"), silentLogger);
    const later = new DeadlineFile(join(dir, "node-deadline"), silentLogger);
    later.write(monotonicNow() + 60_000);
    expect(readDeadline(mine.source)).toBeNull();
    const { fence, reasons } = passedFence(mine.source);
    expect(fence.valid()).toBe(false);
    expect(reasons).toHaveLength(1);
  });

  it("reads nothing from a missing or garbled file", () => {
    const dir = scratch();
    const file = new DeadlineFile(join(dir, "node-deadline"), silentLogger);
    expect(readDeadline(file.source)).toBe(0);
    writeFileSync(join(dir, "node-deadline"), `${file.source.token} soon\n`);
    expect(readDeadline(file.source)).toBeNull();
    rmSync(join(dir, "node-deadline"));
    expect(readDeadline(file.source)).toBeNull();
  });

  it("never writes a deadline earlier than one it wrote", () => {
    const file = new DeadlineFile(join(scratch(), "node-deadline"), silentLogger);
    file.write(5_000);
    file.write(4_000);
    expect(readDeadline(file.source)).toBe(5_000);
  });
});
