import { join } from "node:path";
import { DurableObject, memoryStorage, Runtime, silentLogger } from "@torpor/core";
import { afterEach, expect, onTestFinished, test } from "vitest";
import type { KvNamespace } from "../src/kv/kv-namespace.ts";
import { kvPlugin } from "../src/kv/kv-plugin.ts";
import { KvStore } from "../src/kv/kv-store.ts";
import { bindingContext, tempDir } from "./helpers.ts";

/**
 * KV writes from a Durable Object wait for the object's output gate, as on
 * workerd (put, delete and bulk get wait for the output locks): the KV store
 * commits at once (synchronous FULL), so a put made right after an object
 * write, and before that write is durable, could survive a power loss that
 * loses the object's write. Here the object's commit is watched (and failed)
 * by the memory provider's beforeCommit hook, and the KV file is read through
 * a second connection.
 */

type Env = { KV: KvNamespace };

class Writer extends DurableObject<Env> {
  async putAfterWrite(): Promise<string> {
    this.ctx.storage.put("x", 1);
    await this.env.KV.put("y", "after x");
    return "put";
  }
  async deleteAfterWrite(): Promise<string> {
    this.ctx.storage.put("x", 1);
    await this.env.KV.delete("y");
    return "deleted";
  }
}

/** What the hook does at the object's commit (observe the KV file, or fail the commit). */
let atCommit: () => void = () => {};
afterEach(() => {
  atCommit = () => {};
});

async function start() {
  const dataDir = tempDir();
  const bound = await kvPlugin.create([{ binding: "KV", id: "gate" }], bindingContext(dataDir));
  const observer = new KvStore(join(dataDir, "kv", "gate.sqlite"));
  const runtime = new Runtime({
    objects: { Writer },
    storage: memoryStorage({ beforeCommit: () => atCommit() }),
    env: bound.env,
    logger: silentLogger,
  });
  onTestFinished(async () => {
    await runtime.close();
    observer.close();
    await bound.close();
  });
  const kv = bound.env.KV as KvNamespace;
  return { writer: runtime.namespace<Writer>("Writer").getByName("w"), kv, stored: () => observer.get("y", Date.now())?.value.toString() ?? null };
}

test("a KV put after an object write happens only once that write is committed", async () => {
  const { writer, stored } = await start();
  const seen: Array<string | null> = [];
  atCommit = () => seen.push(stored());
  expect(await writer.putAfterWrite()).toBe("put");
  // At the object's commit, the KV put had not happened yet.
  expect(seen).toEqual([null]);
  expect(stored()).toBe("after x");
});

test("a KV put after an object write whose commit fails never happens", async () => {
  const { writer, stored } = await start();
  atCommit = () => {
    throw new Error("injected commit failure");
  };
  await expect(writer.putAfterWrite()).rejects.toMatchObject({ code: "ERR_STORAGE_COMMIT_FAILED" });
  expect(stored()).toBeNull();
});

test("a KV delete after an object write whose commit fails never happens", async () => {
  const { writer, kv, stored } = await start();
  await kv.put("y", "kept");
  atCommit = () => {
    throw new Error("injected commit failure");
  };
  await expect(writer.deleteAfterWrite()).rejects.toMatchObject({ code: "ERR_STORAGE_COMMIT_FAILED" });
  expect(stored()).toBe("kept");
});
