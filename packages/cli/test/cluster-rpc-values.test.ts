// RPC values between the worker processes of `torpor start --workers 2` behave as within one process: a routed call
// is encoded once, when it is made (no structured clone before it is serialized; issue 23 item 5), so the callee
// never sees what its caller changes afterwards, nor the caller what the callee changes; a Buffer arrives as the
// Uint8Array a structured clone makes, and a typed array owns its memory even when another call's frame came in the
// same read (before, the callee's copy of it was a copy of the whole read); a value that cannot be cloned fails with
// the same error as in one process. Each scenario runs against an object of the Worker's own process and one of the
// other process, in the same request, and the two outcomes are compared.
import { rmSync } from "node:fs";
import { afterAll, beforeAll, expect, it } from "vitest";
import { startScenarios, visit as visitScenario } from "./cluster-scenarios.ts";
import type { Server } from "./helpers.ts";

const WORKER = `
import { DurableObject } from "cloudflare:workers";

const bytesOf = (u) => ({ name: u.constructor.name, own: u.byteOffset === 0 && u.buffer.byteLength === u.byteLength, content: [...u] });

export class Box extends DurableObject {
  pid() { return process.pid; }
  take(value) { return value; }
  keep(value) { this.kept = value; }
  kept_() { return this.kept; }
  give() { return (this.given ??= { n: 1, list: [1] }); }
  bump() { this.given.n++; this.given.list.push(this.given.n); }
  bytes(u) { return bytesOf(u); }
  makeBytes() { return new Uint8Array([7, 8, 9]); }
  kind(value) { return Object.prototype.toString.call(value); }
  giveSymbol() { return { s: Symbol("s") }; }
  get state() { return this.give(); }
  get symbolProp() { return [Symbol("p")]; }
}

async function attempt(fn) {
  try {
    return { value: await fn() };
  } catch (error) {
    return { error: { class: error.constructor.name, code: error.code, message: error.message } };
  }
}

async function isolation(stub) {
  const arg = { n: 1, list: [1] };
  const taken = stub.take(arg);
  arg.n = 2;
  arg.list.push(2);
  const kept = stub.keep(arg);
  arg.n = 3;
  await kept;
  const given = await stub.give();
  given.n = 99;
  given.list.push(99);
  await stub.bump();
  const read = await stub.state;
  read.n = 50;
  return { taken: await taken, kept: await stub.kept_(), given, again: await stub.give(), read, readAgain: await stub.state };
}

async function bytes(stub) {
  // Sent in one turn: both frames leave in one write, and the owner reads them together.
  const [a, b, buffer] = await Promise.all([
    stub.bytes(new Uint8Array([1, 2, 3])),
    stub.bytes(new Uint8Array([4, 5, 6])),
    stub.bytes(Buffer.from([7, 8])),
  ]);
  return { a, b, buffer: { name: buffer.name, content: buffer.content }, result: bytesOf(await stub.makeBytes()) };
}

async function errors(stub) {
  return {
    symbol: await attempt(() => stub.take(Symbol("x"))),
    nested: await attempt(() => stub.take({ deep: [1, Symbol("y")] })),
    result: await attempt(() => stub.giveSymbol()),
    weak: await attempt(() => stub.take(new WeakMap())),
    property: await attempt(async () => await stub.symbolProp),
  };
}

const scenarios = { isolation, bytes, errors };

export default {
  async fetch(request, env) {
    const scenario = scenarios[new URL(request.url).pathname.slice(1)];
    const out = {};
    for (let i = 0; i < 64 && Object.keys(out).length < 2; i++) {
      const stub = env.BOXES.getByName("box-" + scenario.name + "-" + i);
      const where = (await stub.pid()) === process.pid ? "here" : "there";
      if (out[where] === undefined) out[where] = await scenario(stub);
    }
    // A Blob is cloned within one process; Node's serializer does not take it.
    if (scenario === errors) {
      out.blob = {};
      for (let i = 0; i < 64 && Object.keys(out.blob).length < 2; i++) {
        const stub = env.BOXES.getByName("blob-" + i);
        const where = (await stub.pid()) === process.pid ? "here" : "there";
        out.blob[where] ??= await attempt(() => stub.kind(new Blob(["b"])));
      }
    }
    return Response.json(out);
  },
};
`;

let dir: string;
let server: Server;

beforeAll(async () => {
  ({ dir, server } = await startScenarios(WORKER, "BOXES", "Box", ["--workers", "2"]));
}, 150_000);

afterAll(async () => {
  expect(await server?.stop()).toBe(0);
  rmSync(dir, { recursive: true, force: true });
});

const visit = (path: string) => visitScenario(server, path);

it("neither side of a call or property read to another worker sees what the other changes afterwards, as in one process", async () => {
  const { here, there } = await visit("isolation");
  expect(there).toEqual({
    taken: { n: 1, list: [1] },
    kept: { n: 2, list: [1, 2] },
    given: { n: 99, list: [1, 99] },
    again: { n: 2, list: [1, 2] },
    read: { n: 50, list: [1, 2] },
    readAgain: { n: 2, list: [1, 2] },
  });
  expect(there).toEqual(here);
}, 60_000);

it("typed arrays from another worker own their memory, and a Buffer arrives as a Uint8Array, as a structured clone gives them", async () => {
  const { here, there } = await visit("bytes");
  expect(there).toEqual({
    a: { name: "Uint8Array", own: true, content: [1, 2, 3] },
    b: { name: "Uint8Array", own: true, content: [4, 5, 6] },
    buffer: { name: "Uint8Array", content: [7, 8] },
    result: { name: "Uint8Array", own: true, content: [7, 8, 9] },
  });
  expect(there).toEqual(here);
}, 60_000);

it("a value that cannot be cloned fails as in one process (ERR_RPC_CLONE, same message); a Blob, cloned in one process, fails with ERR_RPC_CLONE", async () => {
  const { here, there, blob } = await visit("errors");
  expect(there.symbol.error).toEqual({
    class: "TorporError",
    code: "ERR_RPC_CLONE",
    message:
      "RPC values are structured-cloned, and the arguments of take() cannot be: Symbol(x) could not be cloned.. Pass plain data (no functions, class instances with behaviour, or sockets).",
  });
  expect(there.result.error).toMatchObject({ class: "TorporError", code: "ERR_RPC_CLONE" });
  expect(there.result.error.message).toMatch(/^RPC values are structured-cloned, and the result of giveSymbol\(\) cannot be: /);
  expect(there.nested.error).toMatchObject({ class: "TorporError", code: "ERR_RPC_CLONE" });
  expect(there.property.error.message).toMatch(/^RPC values are structured-cloned, and the property symbolProp cannot be: /);
  expect(there).toEqual(here);
  expect(blob.here).toEqual({ value: "[object Blob]" });
  expect(blob.there.error).toMatchObject({ class: "TorporError", code: "ERR_RPC_CLONE" });
  expect(blob.there.error.message).toMatch(/^RPC values are structured-cloned, and the arguments of kind\(\) cannot be: Unserializable host object/);
}, 60_000);
