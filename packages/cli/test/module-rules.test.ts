/**
 * Module rules through the real `torpor` bin: `.wasm` (also `?module`),
 * `.txt`, `.html`, `.bin` imports by wrangler's default rules, the config's
 * `rules` (a new glob, fallthrough), and wrangler's error for a file only a
 * shadowed rule matches.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { expect, it, onTestFinished } from "vitest";
import { project, runTorpor, startTorpor } from "./helpers.ts";

/** A WebAssembly module exporting add(i32, i32) -> i32 (hand-assembled). */
const ADD_WASM = Uint8Array.from([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x07, 0x01, 0x60, 0x02, 0x7f, 0x7f, 0x01, 0x7f, 0x03, 0x02, 0x01, 0x00, 0x07, 0x07, 0x01, 0x03, 0x61,
  0x64, 0x64, 0x00, 0x00, 0x0a, 0x09, 0x01, 0x07, 0x00, 0x20, 0x00, 0x20, 0x01, 0x6a, 0x0b,
]);

const WORKER = `
import wasm from "./add.wasm";
import wasmModule from "./add.wasm?module";
import text from "./hello.txt";
import page from "./page.html";
import data from "./bytes.bin";
import notes from "./notes.md";
import extra from "./more.dat";

export default {
  async fetch() {
    const { exports } = await WebAssembly.instantiate(wasm);
    return Response.json({
      wasm: [wasm instanceof WebAssembly.Module, WebAssembly.Module.exports(wasm), exports.add(2, 40)],
      wasmModule: wasmModule instanceof WebAssembly.Module,
      text,
      page,
      data: [data instanceof ArrayBuffer, [...new Uint8Array(data)]],
      notes,
      extra: [extra instanceof ArrayBuffer, extra.byteLength],
    });
  },
};
`;

it("imports .wasm, .txt, .html and .bin by wrangler's default rules, and the config's rules", async () => {
  const dir = project({
    "worker.js": WORKER,
    "hello.txt": "héllo\n",
    "page.html": "<p>hi</p>",
    "notes.md": "# Notes",
    "wrangler.jsonc": JSON.stringify({
      main: "worker.js",
      compatibility_date: "2025-06-01",
      rules: [
        { type: "Text", globs: ["**/*.md"], fallthrough: true },
        { type: "Data", globs: ["**/*.dat"], fallthrough: true },
      ],
    }),
  });
  writeFileSync(join(dir, "add.wasm"), ADD_WASM);
  writeFileSync(join(dir, "bytes.bin"), Uint8Array.from([0, 1, 2, 255]));
  writeFileSync(join(dir, "more.dat"), new Uint8Array(3));
  const server = await startTorpor(["dev", "--port", "0", "--persist-to", join(dir, "data")], dir);
  onTestFinished(async () => {
    await server.stop();
  });
  expect(await (await fetch(server.url)).json()).toEqual({
    wasm: [true, [{ name: "add", kind: "function" }], 42],
    wasmModule: true,
    text: "héllo\n",
    page: "<p>hi</p>",
    data: [true, [0, 1, 2, 255]],
    notes: "# Notes",
    extra: [true, 3],
  });
  expect(server.stderr()).not.toMatch(/warn|error/);
});

it("a file only a shadowed rule matches fails to load with wrangler's error", async () => {
  const dir = project({
    "worker.js": `import text from "./hello.txt";\nexport default { fetch: () => new Response(text) };\n`,
    "hello.txt": "hi",
    "wrangler.json": JSON.stringify({ main: "worker.js", compatibility_date: "2025-06-01", rules: [{ type: "Text", globs: ["**/*.md"] }] }),
  });
  const result = await runTorpor(["dev", "--port", "0", "--persist-to", join(dir, "data")], dir);
  expect(result.code).toBe(1);
  expect(result.stderr).toContain(
    'wrangler.json: the module rule {"type":"Text","globs":["**/*.md"]} has no fallthrough, so these rules are ignored: {"type":"Text","globs":["**/*.txt","**/*.html"]} (default).',
  );
  expect(result.stderr).toContain(
    'The file ./hello.txt matched a module rule in your configuration ({"type":"Text","globs":["**/*.txt","**/*.html"]}), but was ignored because a previous rule with the same type was not marked as `fallthrough = true`.',
  );
});
