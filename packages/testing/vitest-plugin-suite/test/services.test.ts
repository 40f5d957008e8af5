import { env } from "cloudflare:test";
import { exports } from "cloudflare:workers";
import { expect, test } from "vitest";

interface Greeter {
  hello(name: string): Promise<string>;
}
interface Service {
  fetch(input: string): Promise<Response>;
}

test("a service binding to the Worker itself fetches through its assets, then its default export", async () => {
  const itself = env.ITSELF as Service;
  expect(await (await itself.fetch("http://x/hello.txt")).text()).toBe("static hello\n");
  await env.CACHE.put("k", "from kv");
  expect(await (await itself.fetch("http://x/kv/k")).text()).toBe("from kv");
});

test("a service binding with an entrypoint calls that WorkerEntrypoint's methods over RPC, with the Worker's env", async () => {
  expect(await (env.GREETER as Greeter).hello("Ada")).toBe("hi, Ada");
});

test("cloudflare:workers' exports holds the Worker's entrypoints beside its Durable Object namespaces", async () => {
  const own = exports as Record<string, unknown>;
  expect(await (own.Greeter as Greeter).hello("Bo")).toBe("hi, Bo");
  expect(await (await (own.default as Service).fetch("http://x/hello.txt")).text()).toBe("static hello\n");
});
