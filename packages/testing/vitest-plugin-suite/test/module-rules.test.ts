import { SELF } from "cloudflare:test";
import { expect, test } from "vitest";

test("the Worker's .txt, .wasm and .bin imports follow wrangler's module rules (string, WebAssembly.Module, ArrayBuffer)", async () => {
  expect(await (await SELF.fetch("http://example.com/modules")).json()).toEqual({
    hello: "hello from a text module\n",
    wasm: true,
    sum: 42,
    bytes: [true, [0, 1, 2, 255]],
  });
});
