import { once } from "node:events";
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, expect, onTestFinished, test, vi } from "vitest";
import { DurableObject, type DurableObjectNamespace, Response } from "@torpor/core";
import { injectFsyncFault } from "../src/wal-sync.ts";
import { holding, releaseHeld, startOnHeldDisk } from "./held-disk.ts";

/**
 * A request body an object streams into a subrequest (a `ReadableStream` it
 * feeds after the request left, or a body it pipes on) is behind its output
 * gate write by write, like its other output (workerd gates each stream write
 * by the writer's output locks): a chunk written after a storage write reaches
 * the other side only once that write is durable, and never if it fails.
 * Both ways out: the global `fetch()` to a real HTTP server, and `stub.fetch()`
 * to another object. A's fsyncs are held by a hook in the provider's fsync path.
 */

type Env = { A: DurableObjectNamespace<A>; B: DurableObjectNamespace<B> };

let writer: WritableStreamDefaultWriter<Uint8Array> | null = null;
/** What B read of the body A streams to it. */
const readByB: string[] = [];

class A extends DurableObject<Env> {
  /** Starts a POST whose body A writes later; nothing awaits the response. */
  startUpload(to: string): string {
    const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
    writer = writable.getWriter();
    void writer.write(new TextEncoder().encode("before "));
    const init = { method: "POST", body: readable, duplex: "half" } as RequestInit;
    const sent = to === "B" ? this.env.B.getByName("b").fetch("http://b/", init) : fetch(to, init);
    sent.catch(() => {});
    return "started";
  }
  /** A later event: a storage write, then a chunk of the body. */
  writeThenStream(): string {
    this.ctx.storage.put("x", 1);
    void writer!.write(new TextEncoder().encode("after x")).catch(() => {});
    return "streamed";
  }
}

class B extends DurableObject {
  override async fetch(request: Request): Promise<Response> {
    const decoder = new TextDecoder();
    try {
      for await (const chunk of request.body as unknown as AsyncIterable<Uint8Array>) readByB.push(decoder.decode(chunk));
      readByB.push("end");
    } catch (error) {
      readByB.push(`error ${(error as { code?: string }).code}`);
    }
    return new Response("ok");
  }
}

const WAIT = { timeout: 30_000, interval: 10 };
afterEach(() => {
  injectFsyncFault(null);
  writer = null;
  readByB.length = 0;
});

async function start() {
  const { runtime, aWal } = startOnHeldDisk({ A, B }, "torpor-piped-body-");
  return { a: runtime.namespace<A>("A").getByName("a"), aWal };
}

/** A real HTTP server recording what arrives of each request body, and how each ended. */
async function server(): Promise<{ url: string; received: () => string; ends: string[] }> {
  let received = "";
  const ends: string[] = [];
  const http = createServer((req: IncomingMessage, res) => {
    req.on("data", (chunk: Buffer) => (received += chunk.toString()));
    req.on("end", () => {
      ends.push("end");
      res.end("ok");
    });
    req.on("aborted", () => ends.push("aborted"));
    req.on("error", () => ends.push("error"));
  }).listen(0, "127.0.0.1");
  await once(http, "listening");
  onTestFinished(() => {
    http.closeAllConnections();
    return new Promise<void>((resolve) => http.close(() => resolve()));
  });
  return { url: `http://127.0.0.1:${(http.address() as AddressInfo).port}/`, received: () => received, ends };
}

/** Several turns of the event loop: what passing a chunk on (a pipe, a socket) needs. */
async function turns(n = 200): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
}

function holdFsyncs(aWal: string): () => number {
  let held = 0;
  injectFsyncFault((path) => {
    if (!path.endsWith(aWal)) return Promise.resolve();
    held++;
    return new Promise<void>((resolve) => holding.push(resolve));
  });
  return () => held;
}

test("fetch(): a chunk of the request body written after a storage write reaches the server only once the write is durable", async () => {
  const http = await server();
  const { a, aWal } = await start();
  expect(await a.startUpload(http.url)).toBe("started");
  await vi.waitFor(() => expect(http.received()).toBe("before "), WAIT);
  const held = holdFsyncs(aWal);
  const call = a.writeThenStream();
  await vi.waitFor(() => expect(held()).toBe(1), WAIT);
  await turns();
  expect(http.received()).toBe("before ");
  releaseHeld();
  expect(await call).toBe("streamed");
  await vi.waitFor(() => expect(http.received()).toBe("before after x"), WAIT);
  await writer!.close();
  await vi.waitFor(() => expect(http.ends).toEqual(["end"]), WAIT);
});

test("stub.fetch(): a chunk of the request body written after a storage write reaches the other object only once the write is durable", async () => {
  const { a, aWal } = await start();
  expect(await a.startUpload("B")).toBe("started");
  await vi.waitFor(() => expect(readByB).toEqual(["before "]), WAIT);
  const held = holdFsyncs(aWal);
  const call = a.writeThenStream();
  await vi.waitFor(() => expect(held()).toBe(1), WAIT);
  await turns();
  expect(readByB).toEqual(["before "]);
  releaseHeld();
  expect(await call).toBe("streamed");
  await vi.waitFor(() => expect(readByB).toEqual(["before ", "after x"]), WAIT);
  await writer!.close();
  await vi.waitFor(() => expect(readByB).toEqual(["before ", "after x", "end"]), WAIT);
});

test("a chunk of the request body written after a storage write that fails never leaves: the body errors", async () => {
  const { a } = await start();
  expect(await a.startUpload("B")).toBe("started");
  await vi.waitFor(() => expect(readByB).toEqual(["before "]), WAIT);
  injectFsyncFault(() => Promise.reject(Object.assign(new Error("EIO: i/o error, fsync"), { code: "EIO" })));
  await expect(a.writeThenStream()).rejects.toMatchObject({ code: "ERR_STORAGE_COMMIT_FAILED" });
  await vi.waitFor(() => expect(readByB).toEqual(["before ", "error ERR_STORAGE_COMMIT_FAILED"]), WAIT);
});
