import { DurableObject, RpcTarget, WorkerEntrypoint, env as importedEnv } from "cloudflare:workers";

class Greeter extends RpcTarget {
  constructor(name) {
    super();
    this.secret = "own fields are not offered";
    this.label = name;
  }
  hello(who) {
    return `hello ${who} from ${this.label}`;
  }
  get name() {
    return this.label;
  }
}

export class Counter extends DurableObject {
  increment() {
    const next = (this.ctx.storage.kv.get("n") ?? 0) + 1;
    this.ctx.storage.kv.put("n", next);
    return next;
  }
}

export default class extends WorkerEntrypoint {
  async fetch(request) {
    const url = new URL(request.url);
    return Response.json(
      { worker: "b", method: request.method, url: request.url, path: url.pathname, header: request.headers.get("x-test"), body: await request.text() },
      { status: 201, headers: { "x-from": "b" } },
    );
  }
  count() {
    return this.env.COUNTER.getByName("one").increment();
  }
  add(a, b) {
    return a + b;
  }
  async later(ms) {
    await new Promise((resolve) => setTimeout(resolve, ms));
    return "later";
  }
  whoAmI() {
    return { env: this.env.WHO, imported: importedEnv.WHO, hasCtx: typeof this.ctx.waitUntil };
  }
  echo(value) {
    return value;
  }
  async callNested(value) {
    return await value.list[0].f(7);
  }
  async useTally(tally) {
    await tally.add(2);
    return { second: await tally.add(3), current: await tally.current };
  }
  greeter(name) {
    return new Greeter(name);
  }
  fail(kind) {
    if (kind === "range") throw new RangeError("out of range");
    if (kind === "custom") {
      const error = new Error("custom");
      error.name = "CustomError";
      throw error;
    }
    throw new TypeError("bad type");
  }
  response() {
    return new Response("from rpc", { status: 202, headers: { "x-rpc": "1" } });
  }
  get property() {
    return "getter";
  }
  _private() {
    return "underscore";
  }
}

export class Named extends WorkerEntrypoint {
  hello(name) {
    return `hello ${name} from ${this.env.WHO}`;
  }
  async fetch(request) {
    return new Response(`named ${new URL(request.url).pathname}`);
  }
}
