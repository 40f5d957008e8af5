import { SELF, createExecutionContext, env, runInDurableObject, waitOnExecutionContext } from "cloudflare:test";
import { env as workersEnv } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import worker from "../src/index.ts";

describe("the Worker", () => {
  it("answers through SELF", async () => {
    const response = await SELF.fetch("https://example.com/counter/self?by=4");
    expect(await response.json()).toEqual({ count: 4, served: 1 });
    expect((await SELF.fetch("https://example.com/nowhere")).status).toBe(404);
  });

  it("sees the same env as cloudflare:workers", () => {
    expect(workersEnv).toBe(env);
    expect(env.GREETING).toBe("hello");
  });

  it("finishes waitUntil work by waitOnExecutionContext", async () => {
    const ctx = createExecutionContext();
    const response = await worker.fetch(new Request("https://example.com/visit/later"), env, ctx);
    expect(await response.text()).toBe("hello, later");
    expect(await env.COUNTER.getByName("later").getCount()).toBe(0);
    await waitOnExecutionContext(ctx);
    expect(await env.COUNTER.getByName("later").getCount()).toBe(1);
  });

  it("passes a waitUntil rejection to waitOnExecutionContext", async () => {
    const ctx = createExecutionContext();
    ctx.waitUntil(Promise.reject(new Error("background work failed")));
    await expect(waitOnExecutionContext(ctx)).rejects.toThrow("background work failed");
  });
});

describe("arguments of the wrong type", () => {
  it("are TypeErrors with Cloudflare's messages", async () => {
    await expect(runInDurableObject(env.COUNTER as never, () => 1)).rejects.toThrow(
      new TypeError("Failed to execute 'runInDurableObject': parameter 1 is not of type 'DurableObjectStub'."),
    );
    await expect(waitOnExecutionContext({} as never)).rejects.toThrow(TypeError);
  });
});
