import { DurableObject, memoryStorage, Runtime, silentLogger } from "@torpor/core";
import { afterEach, expect, onTestFinished, test, vi } from "vitest";
import { serviceBinding, ServiceRegistry } from "../src/service-binding.ts";

/**
 * A service binding's fetch() and RPC calls from a Durable Object are
 * subrequests: workerd's fetch and RPC wait for the calling object's output
 * locks. So object A's write x, then a call to the Worker behind the
 * binding: the call reaches it only once x is committed, and never when x's
 * commit fails. The commit is watched (and failed) by the memory provider's
 * beforeCommit hook.
 */

/** What reached the Worker behind the binding, in order. */
const reached: string[] = [];
let atCommit: () => void = () => {};
afterEach(() => {
  reached.length = 0;
  atCommit = () => {};
});

/** The bound Worker's default export (RPC) and a named entrypoint with fetch(). */
class Back {
  note(from: string): string {
    reached.push(from);
    return `noted ${from}`;
  }
}
class BackFetch {
  async fetch(request: Request): Promise<Response> {
    const from = new URL(request.url).searchParams.get("from")!;
    if (from === "upload") {
      // Records each chunk of the body the object streams, and how the body ended.
      const decoder = new TextDecoder();
      try {
        for await (const chunk of request.body as unknown as AsyncIterable<Uint8Array>) reached.push(decoder.decode(chunk));
        reached.push("end");
      } catch (error) {
        reached.push(`error ${(error as { code?: string }).code}`);
      }
      return new Response("uploaded");
    }
    reached.push(from);
    return new Response(`fetched ${from}`);
  }
}

let upload: WritableStreamDefaultWriter<Uint8Array> | null = null;

type Env = { BACK: Back; BACK_FETCH: { fetch: typeof fetch } };

class Writer extends DurableObject<Env> {
  async viaRpc(): Promise<string> {
    this.ctx.storage.put("x", 1);
    return this.env.BACK.note("rpc");
  }
  /** Starts a POST whose body it writes later; nothing awaits the response. */
  startUpload(): string {
    const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
    upload = writable.getWriter();
    void upload.write(new TextEncoder().encode("before"));
    this.env.BACK_FETCH.fetch("http://back/?from=upload", { method: "POST", body: readable, duplex: "half" } as RequestInit).catch(() => {});
    return "started";
  }
  /** A later event: a write, then a chunk of the body. */
  writeThenStream(): string {
    this.ctx.storage.put("x", 1);
    void upload!.write(new TextEncoder().encode("after x")).catch(() => {});
    return "streamed";
  }
  async viaFetch(): Promise<string> {
    this.ctx.storage.put("x", 1);
    return (await this.env.BACK_FETCH.fetch("http://back/?from=fetch")).text();
  }
}

function start() {
  const registry = new ServiceRegistry();
  const back = new Runtime({ objects: {}, storage: memoryStorage(), logger: silentLogger });
  registry.add("back", { runtime: back, defaultExport: Back, entrypoints: { BackFetch } });
  const env = { BACK: serviceBinding(registry, "back", undefined), BACK_FETCH: serviceBinding(registry, "back", "BackFetch") };
  const runtime = new Runtime({ objects: { Writer }, storage: memoryStorage({ beforeCommit: () => atCommit() }), env, logger: silentLogger });
  onTestFinished(async () => {
    await runtime.close();
    await back.close();
  });
  return runtime.namespace<Writer>("Writer").getByName("w");
}

test("an RPC call on a service binding leaves once the caller's write is committed", async () => {
  const writer = start();
  const seen: string[][] = [];
  atCommit = () => seen.push([...reached]);
  expect(await writer.viaRpc()).toBe("noted rpc");
  expect(seen).toEqual([[]]);
  expect(reached).toEqual(["rpc"]);
});

test("a service binding's fetch() leaves once the caller's write is committed", async () => {
  const writer = start();
  const seen: string[][] = [];
  atCommit = () => seen.push([...reached]);
  expect(await writer.viaFetch()).toBe("fetched fetch");
  expect(seen).toEqual([[]]);
  expect(reached).toEqual(["fetch"]);
});

test("service binding calls after a write whose commit fails never leave", async () => {
  const writer = start();
  atCommit = () => {
    throw new Error("injected commit failure");
  };
  await expect(writer.viaRpc()).rejects.toMatchObject({ code: "ERR_STORAGE_COMMIT_FAILED" });
  await expect(writer.viaFetch()).rejects.toMatchObject({ code: "ERR_STORAGE_COMMIT_FAILED" });
  expect(reached).toEqual([]);
});

test("a chunk of a body streamed into a service binding's fetch() after a write whose commit fails never reaches it", async () => {
  const writer = start();
  expect(await writer.startUpload()).toBe("started");
  await vi.waitFor(() => expect(reached).toEqual(["before"]), { timeout: 10_000, interval: 5 });
  atCommit = () => {
    throw new Error("injected commit failure");
  };
  await expect(writer.writeThenStream()).rejects.toMatchObject({ code: "ERR_STORAGE_COMMIT_FAILED" });
  await vi.waitFor(() => expect(reached).toEqual(["before", "error ERR_STORAGE_COMMIT_FAILED"]), { timeout: 10_000, interval: 5 });
});
