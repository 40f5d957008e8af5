import { SELF, createExecutionContext, createMessageBatch, env, reset, waitOnExecutionContext } from "cloudflare:test";
import { env as workersEnv } from "cloudflare:workers";
import { expect, test } from "vitest";
import worker, { envAtLoad } from "../src/worker.ts";

test("env holds the config's vars and bindings, and is cloudflare:workers' env", () => {
  expect(env.GREETING).toBe("hi");
  expect(typeof env.BOX.getByName).toBe("function");
  expect(workersEnv).toBe(env);
  expect(Object.keys(env).sort()).toEqual(["ASSETS", "BOX", "CACHE", "DB", "FILES", "GREETER", "GREETING", "ITSELF", "TEST_MIGRATIONS"]);
  // The Worker's module-level code ran with the vars already in env.
  expect(envAtLoad).toEqual({ greeting: "hi" });
});

test("SELF fetches through the Worker's default fetch, WebSocket upgrades included", async () => {
  expect(await (await SELF.fetch("http://example.com/a")).text()).toBe("1");
  expect(await (await SELF.fetch("http://example.com/a")).text()).toBe("2");

  const response = await SELF.fetch("http://example.com/a", { headers: { Upgrade: "websocket" } });
  expect(response.status).toBe(101);
  const ws = response.webSocket!;
  ws.accept();
  const reply = new Promise<string>((resolve) => ws.addEventListener("message", (event) => resolve(String(event.data))));
  ws.send("x");
  expect(await reply).toBe("echo x");
  ws.close(1000);
});

test("waitOnExecutionContext waits for waitUntil work, even work added while waiting", async () => {
  const ctx = createExecutionContext();
  const response = await worker.fetch(new Request("http://example.com/later"), env, ctx);
  expect(await response.text()).toBe("accepted");
  expect(await env.BOX.getByName("later").get("done")).toBeUndefined();
  let late = false;
  ctx.waitUntil(scheduler.wait(5).then(() => ctx.waitUntil(scheduler.wait(5).then(() => void (late = true)))));
  await waitOnExecutionContext(ctx);
  expect(await env.BOX.getByName("later").get("done")).toBe(true);
  expect(late).toBe(true);
});

test("waitOnExecutionContext rejects with a waitUntil rejection, AggregateError for several", async () => {
  const one = createExecutionContext();
  one.waitUntil(Promise.reject(new RangeError("one")));
  await expect(waitOnExecutionContext(one)).rejects.toThrow(new RangeError("one"));
  const two = createExecutionContext();
  two.waitUntil(Promise.reject(new Error("a")));
  two.waitUntil(Promise.reject(new Error("b")));
  await expect(waitOnExecutionContext(two)).rejects.toBeInstanceOf(AggregateError);
  expect(createExecutionContext().constructor.name).toBe("ExecutionContext");
});

test("arguments of the wrong type get Cloudflare's TypeErrors", async () => {
  await expect(waitOnExecutionContext({} as never)).rejects.toThrow(
    new TypeError(
      "Failed to execute 'getWaitUntil': parameter 1 is not of type 'ExecutionContext'.\nYou must call 'createExecutionContext()' or 'createPagesEventContext()' to get an 'ExecutionContext' instance.",
    ),
  );
});

test("exports for products Torpor does not run throw ERR_TEST_UNSUPPORTED", () => {
  expect(() => createMessageBatch("queue", [])).toThrow(expect.objectContaining({ code: "ERR_TEST_UNSUPPORTED", message: expect.stringContaining("Queues") }));
  expect(() => reset()).toThrow(expect.objectContaining({ code: "ERR_TEST_UNSUPPORTED" }));
});

test("scheduler.wait is a global", async () => {
  const start = performance.now();
  await scheduler.wait(15);
  expect(performance.now() - start).toBeGreaterThanOrEqual(14);
});
