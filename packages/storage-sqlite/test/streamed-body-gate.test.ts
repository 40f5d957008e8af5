import { afterEach, expect, test, vi } from "vitest";
import { DurableObject, Response } from "@torpor/core";
import { injectFsyncFault } from "../src/wal-sync.ts";
import { holding, releaseHeld, startOnHeldDisk } from "./held-disk.ts";

/**
 * A response body an object feeds after returning it (a `ReadableStream`
 * it writes to later) is behind the output gate chunk by chunk, as workerd
 * gates every stream write by the writer's output locks: a chunk written
 * after a storage write reaches the client only once that write is
 * durable, and never if it fails. A's fsyncs are held by a hook in the
 * provider's fsync path until the test lets them run.
 */

let writer: WritableStreamDefaultWriter<Uint8Array> | null = null;

class A extends DurableObject {
  override fetch(): Response {
    const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
    writer = writable.getWriter();
    void writer.write(new TextEncoder().encode("before "));
    return new Response(readable);
  }
  /** A later event: a storage write, then a chunk of the body the earlier fetch returned. */
  writeThenStream(): string {
    this.ctx.storage.put("x", 1);
    void writer!.write(new TextEncoder().encode("after x"));
    return "streamed";
  }
}

const WAIT = { timeout: 30_000, interval: 10 };
afterEach(() => {
  injectFsyncFault(null);
  writer = null;
});

async function start() {
  const { runtime, aWal } = startOnHeldDisk({ A }, "torpor-streamed-body-");
  return { a: runtime.namespace<A>("A").getByName("a"), aWal };
}

/** Several turns of the event loop: what a pipe of in-process streams needs to pass a chunk on. */
async function turns(n = 50): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
}

test("a chunk an object streams after a storage write reaches the client only once the write is durable", async () => {
  const { a, aWal } = await start();
  const response = await a.fetch("http://a/");
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  expect(decoder.decode((await reader.read()).value)).toBe("before ");
  let held = 0;
  injectFsyncFault((path) => {
    if (!path.endsWith(aWal)) return Promise.resolve();
    held++;
    return new Promise<void>((resolve) => holding.push(resolve));
  });
  let received: string | null = null;
  const next = reader.read().then((r) => (received = decoder.decode(r.value)));
  // Its result waits for the fsync too: awaited after the release.
  const call = a.writeThenStream();
  await vi.waitFor(() => expect(held).toBe(1), WAIT);
  await turns();
  expect(received).toBeNull();
  releaseHeld();
  expect(await call).toBe("streamed");
  await next;
  expect(received).toBe("after x");
});

test("a chunk streamed after a storage write that fails never reaches the client", async () => {
  const { a } = await start();
  const response = await a.fetch("http://a/");
  const reader = response.body!.getReader();
  expect(new TextDecoder().decode((await reader.read()).value)).toBe("before ");
  injectFsyncFault(() => Promise.reject(Object.assign(new Error("EIO: i/o error, fsync"), { code: "EIO" })));
  const next = reader.read().then(
    (r) => (r.done ? "done" : new TextDecoder().decode(r.value)),
    (error: { code?: string }) => `error ${error.code}`,
  );
  // The call itself returns before the commit fails (its result is gated too: it gets the failure).
  await expect(a.writeThenStream()).rejects.toMatchObject({ code: "ERR_STORAGE_COMMIT_FAILED" });
  expect(await next).toBe("error ERR_STORAGE_COMMIT_FAILED");
});
