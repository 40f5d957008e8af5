import { expect, test } from "vitest";
import {
  CLOUDFLARE_MODULES,
  DurableObject,
  type ExecutionContext,
  RpcTarget,
  Runtime,
  TorporError,
  resolveCloudflareModule,
  silentLogger,
} from "../src/index.ts";
import * as workers from "../src/cloudflare/workers.ts";

class Greeter extends RpcTarget {
  hello() {
    return "hi";
  }
}

class Room extends DurableObject {
  siblings() {
    return Object.keys(this.ctx.exports).sort();
  }
  async callSibling() {
    const ns = this.ctx.exports.Room as Runtime["env"][string] & { getByName(name: string): { whoami(): Promise<string | undefined> } };
    return ns.getByName("other").whoami();
  }
  whoami() {
    return this.ctx.id.name;
  }
  take(value: unknown) {
    return typeof value;
  }
  give() {
    return { nested: [new Greeter()] };
  }
}

test("ctx.exports: each class's namespace under its class name, plus options.exports, in objects and the Worker ctx", async () => {
  const extra = { Service: { fetch: () => new Response("service") } };
  const runtime = new Runtime({
    objects: { ROOMS: Room },
    exports: extra,
    fetch: (_request: Request, _env: unknown, ctx: ExecutionContext) => Response.json(Object.keys(ctx.exports).sort()),
    logger: silentLogger,
  });
  expect(runtime.exports.Room).toBe(runtime.env.ROOMS);
  const stub = runtime.namespace<Room>("ROOMS").getByName("a");
  expect(await stub.siblings()).toEqual(["Room", "Service"]);
  expect(await stub.callSibling()).toBe("other");
  expect(await (await runtime.fetch("http://x/")).json()).toEqual(["Room", "Service"]);
  await runtime.close();
});

test("an RpcTarget, function or stub passed or returned through RPC arrives by reference, as a stub calling back into it", async () => {
  const runtime = new Runtime({ objects: { ROOMS: Room }, logger: silentLogger });
  const stub = runtime.namespace<Room>("ROOMS").getByName("a");
  expect(new Greeter().hello()).toBe("hi");
  // Stubs are callable proxies (typeof "function"), never copies.
  expect(await stub.take(new Greeter())).toBe("function");
  const given = (await stub.give()) as unknown as { nested: [{ hello(): Promise<string> }] };
  expect(await given.nested[0].hello()).toBe("hi");
  expect(await stub.take({ callback: function onDone() {} })).toBe("object");
  expect(await stub.take([runtime.namespace("ROOMS").getByName("b")])).toBe("object");
  await runtime.close();
});

test("cloudflare:* module map: provided modules resolve to core's subpaths; others throw one error naming the module", () => {
  expect(CLOUDFLARE_MODULES).toEqual({
    "cloudflare:workers": "@torpor/core/cloudflare/workers",
    "cloudflare:email": "@torpor/core/cloudflare/email",
    "cloudflare:sockets": "@torpor/core/cloudflare/sockets",
  });
  expect(resolveCloudflareModule("cloudflare:workers")).toBe("@torpor/core/cloudflare/workers");
  let error: unknown;
  try {
    resolveCloudflareModule("cloudflare:ai");
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(TorporError);
  expect(error).toMatchObject({
    code: "ERR_CLOUDFLARE_MODULE_NOT_PROVIDED",
    message:
      'The module "cloudflare:ai" is not provided by Torpor (it provides cloudflare:workers, cloudflare:email, cloudflare:sockets). Remove the import, or load it only where the code runs on Cloudflare.',
  });
  expect(workers.RpcTarget).toBe(RpcTarget);
  expect(() => new (class Flow extends workers.WorkflowEntrypoint {})({} as never, {})).toThrow(
    expect.objectContaining({ code: "ERR_NOT_SUPPORTED", message: expect.stringContaining("Workflows are not supported by Torpor: Flow cannot run") }),
  );
});
