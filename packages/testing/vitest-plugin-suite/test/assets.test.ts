import { env, SELF } from "cloudflare:test";
import { expect, test } from "vitest";

test("SELF.fetch answers an asset from the config's directory before the Worker runs", async () => {
  const response = await SELF.fetch("http://x/hello.txt");
  expect(response.status).toBe(200);
  expect(response.headers.get("content-type")).toBe("text/plain; charset=utf-8");
  expect(await response.text()).toBe("static hello\n");
  // html_handling: /docs/ serves docs/index.html.
  expect(await (await SELF.fetch("http://x/docs/")).text()).toBe("<p>docs</p>\n");
});

test("a path no asset answers, or one run_worker_first names, reaches the Worker", async () => {
  // public/kv/hello.txt exists, but run_worker_first names /kv/*: the Worker answers.
  await env.CACHE.put("hello.txt", "from kv");
  expect(await (await SELF.fetch("http://x/kv/hello.txt")).text()).toBe("from kv");
  // No asset at /counter: the Worker's Durable Object answers.
  expect(await (await SELF.fetch("http://x/counter")).text()).toBe("1");
});

test("env.ASSETS fetches assets only", async () => {
  const assets = env.ASSETS as { fetch(input: string): Promise<Response> };
  expect(await (await assets.fetch("http://x/hello.txt")).text()).toBe("static hello\n");
  expect((await assets.fetch("http://x/kv/x")).status).toBe(404);
});
