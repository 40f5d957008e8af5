import { describe, expect, test } from "vitest";
import { TorporError } from "../errors.ts";
import { WriteBatch } from "./write-batch.ts";

function batch() {
  let signals = 0;
  const b = new WriteBatch({ writeStarted: () => void signals++ });
  return {
    b,
    get signals() {
      return signals;
    },
  };
}

describe("the write-batch protocol", () => {
  test("the first write of a batch signals once; a commit ends it", () => {
    const t = batch();
    t.b.started();
    t.b.started();
    expect(t.signals).toBe(1);
    expect(t.b.beginCommit(() => {}, "NS/x")).toBe("commit");
    t.b.committed();
    expect(t.b.open).toBe(false);
    t.b.started();
    expect(t.signals).toBe(2);
  });

  test("a commit inside a closure (sync or async alike) is deferred and asked for again when the last closure ends", () => {
    const t = batch();
    t.b.enterClosure();
    t.b.started();
    t.b.enterClosure();
    expect(t.b.beginCommit(() => {}, "NS/x")).toBe("deferred");
    t.b.leaveClosure();
    expect(t.signals).toBe(1);
    t.b.leaveClosure();
    expect(t.signals).toBe(2);
    expect(t.b.beginCommit(() => {}, "NS/x")).toBe("commit");
  });

  test("a closure that wrote nothing defers nothing; no batch means nothing to commit", () => {
    const t = batch();
    expect(t.b.beginCommit(() => {}, "NS/x")).toBe("none");
    t.b.enterClosure();
    expect(t.b.beginCommit(() => {}, "NS/x")).toBe("deferred");
    t.b.leaveClosure();
    expect(t.signals).toBe(0);
  });

  test("a lost batch is signalled, refuses every call, and fails its commit after the provider rolled back", () => {
    const t = batch();
    const lost = new TorporError("ERR_STORAGE_BATCH_LOST", "gone", { cause: new Error("SQLITE_CONSTRAINT") });
    t.b.lose(lost);
    expect(t.signals).toBe(1);
    expect(() => t.b.check()).toThrow(lost);
    let rolledBack = false;
    let error: unknown;
    try {
      t.b.beginCommit(() => void (rolledBack = true), "NS/x");
    } catch (e) {
      error = e;
    }
    expect(rolledBack).toBe(true);
    expect(error).toMatchObject({ code: "ERR_STORAGE_COMMIT_FAILED", message: "Commit of NS/x failed and its batch was rolled back: gone" });
    expect(t.b.lost).toBeNull();
    expect(() => t.b.check()).not.toThrow();
  });

  test("closed: every call throws ERR_STORAGE_CLOSED and nothing commits", () => {
    const t = batch();
    t.b.started();
    t.b.close();
    expect(() => t.b.check()).toThrow(expect.objectContaining({ code: "ERR_STORAGE_CLOSED" }));
    expect(t.b.beginCommit(() => {}, "NS/x")).toBe("none");
  });
});
