// Runs every service binding case and answers the observations as JSON.
import { RpcTarget, WorkerEntrypoint, env as importedEnv } from "cloudflare:workers";

class Tally extends RpcTarget {
  total = 0;
  add(n) {
    this.total += n;
    return this.total;
  }
  get current() {
    return this.total;
  }
}

async function failure(run) {
  try {
    return { value: await run() };
  } catch (error) {
    return { threw: error?.constructor?.name, message: error?.message };
  }
}

async function response(r) {
  return { status: r.status, headers: [...r.headers].filter(([k]) => k !== "content-length" && k !== "date"), body: await r.text() };
}

function cases(env, ctx) {
  return {
    "fetch: default entrypoint": async () =>
      response(await env.B.fetch("http://b.internal/path?q=1", { method: "POST", headers: { "x-test": "yes" }, body: "payload" })),
    "fetch: a Request": async () => response(await env.B.fetch(new Request("https://example.com/r", { headers: { "x-test": "req" } }))),
    "fetch: relative URL": async () => response(await env.B.fetch("/relative")),
    "fetch: named entrypoint": async () => response(await env.NAMED.fetch("http://x/named")),
    "fetch: object default export": async () => response(await env.OBJ.fetch("http://x/obj")),
    "fetch: own Worker (SELF)": async () => response(await env.SELF.fetch("http://self/inner")),
    "rpc: add": () => env.B.add(2, 3),
    "rpc: async method": () => env.B.later(5),
    "rpc: each Worker sees its own env": async () => ({ b: await env.B.whoAmI(), a: { env: env.WHO, imported: importedEnv.WHO } }),
    "rpc: structured values": async () => {
      const value = await env.B.echo({
        date: new Date(0),
        map: new Map([[1, "one"]]),
        set: new Set([2]),
        bytes: new Uint8Array([1, 2]),
        big: 10n,
        nested: { a: [1, { b: null }] },
      });
      return {
        date: value.date instanceof Date,
        map: [...value.map],
        set: [...value.set],
        bytes: [...value.bytes],
        big: typeof value.big,
        nested: value.nested,
      };
    },
    "rpc: arguments are copies": async () => {
      const arg = { n: 1 };
      const back = await env.B.echo(arg);
      return back === arg;
    },
    "rpc: thrown TypeError": () => env.B.fail("type"),
    "rpc: thrown RangeError": () => env.B.fail("range"),
    "rpc: thrown custom error": () => env.B.fail("custom"),
    "rpc: returns a Response": async () => response(await env.B.response()),
    "rpc: named entrypoint": () => env.NAMED.hello("a"),
    "rpc: the other Worker's Durable Object": async () => [await env.B.count(), await env.B.count()],
    "rpc: missing method": () => env.B.nope(),
    "rpc: underscore method": () => env.B._private(),
    "rpc: getter": async () => await env.B.property,
    "rpc: object default export": () => env.OBJ.notRpc(),
    "rpc: own Worker (SELF)": () => env.SELF.double(21),
    "rpc: function argument": async () => {
      const back = await env.B.echo((x) => x + 1);
      return { type: typeof back, result: await back(1) };
    },
    "rpc: function inside an object": async () => typeof (await env.B.echo({ f: () => 1 })).f,
    "rpc: function inside an object, called back": () => env.B.callNested({ list: [{ f: (x) => x * 3 }] }),
    "rpc: RpcTarget argument": async () => {
      const tally = new Tally();
      return { there: await env.B.useTally(tally), here: tally.total };
    },
    "rpc: returned RpcTarget": async () => {
      const greeter = await env.B.greeter("gina");
      const out = { hello: await greeter.hello("bob"), name: await greeter.name, own: await failure(() => greeter.secret()) };
      greeter[Symbol.dispose]();
      out.afterDispose = await failure(() => greeter.hello("bob"));
      return out;
    },
    "rpc: pipelined call on a returned RpcTarget": () => env.B.greeter("pipe").hello("ann"),
    "binding shape": () => ({ typeofFetch: typeof env.B.fetch, typeofMethod: typeof env.B.add, thenable: typeof env.B.then }),
    "ctx.exports.default": async () => response(await ctx.exports.default.fetch("http://self/inner")),
  };
}

export default class extends WorkerEntrypoint {
  async fetch(request) {
    const url = new URL(request.url);
    if (url.pathname === "/inner") return new Response(`a inner ${this.env.WHO}`);
    const out = {};
    for (const [label, run] of Object.entries(cases(this.env, this.ctx))) {
      try {
        const result = await run();
        out[label] = result === undefined ? "undefined" : result;
      } catch (error) {
        out[label] = { threw: error?.constructor?.name, name: error?.name, message: error?.message };
      }
    }
    return Response.json(out);
  }
  double(n) {
    return n * 2;
  }
}
