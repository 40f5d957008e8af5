/**
 * The cloudflare:* modules as Worker code imports them under `torpor dev`
 * (a real process): `cloudflare:workers`'s `exports`, `WorkflowEntrypoint`
 * and a constructible `RpcTarget`, `ctx.exports` in objects and in the
 * Worker, `cloudflare:email`, and one clear error for modules not provided.
 */
import { expect, it, onTestFinished } from "vitest";
import { project, runTorpor, startTorpor } from "./helpers.ts";

const WORKER_JS = `
import { DurableObject, RpcTarget, WorkerEntrypoint, WorkflowEntrypoint, exports } from "cloudflare:workers";
import { EmailMessage } from "cloudflare:email";
import { connect } from "cloudflare:sockets";

class Greeter extends RpcTarget {
  hello(name) { return "hello " + name; }
}

export class Room extends DurableObject {
  ping() { return "pong from " + this.ctx.id.name; }
  viaCtxExports() { return this.ctx.exports.Room.getByName("other").ping(); }
  async viaDefault() { return (await this.ctx.exports.default.fetch("http://loopback/plain")).text(); }
  giveTarget() { return new Greeter(); }
}

export class Math2 extends WorkerEntrypoint {
  add(a, b) { return a + b + Number(this.env.OFFSET); }
}

export class Flow extends WorkflowEntrypoint {
  async run() {}
}

export default {
  async fetch(request, env, ctx) {
    const url = new URL(request.url);
    if (url.pathname === "/plain") return new Response("plain");
    if (url.pathname === "/rpc-target") {
      try {
        const greeter = await env.ROOM.getByName("a").giveTarget();
        return new Response("by reference: " + (await greeter.hello("gina")));
      } catch (error) {
        return new Response(error.code + ": " + error.message, { status: 500 });
      }
    }
    if (url.pathname === "/workflow") {
      try {
        new Flow(ctx, env);
        return new Response("constructed?");
      } catch (error) {
        return new Response(error.code + ": " + error.message, { status: 501 });
      }
    }
    const email = new EmailMessage("a@example.com", "b@example.com", "Subject: hi\\r\\n\\r\\nbody");
    return Response.json({
      sameRecord: exports === ctx.exports || Object.keys(exports).join() === Object.keys(ctx.exports).join(),
      keys: Object.keys(ctx.exports).sort(),
      greet: new Greeter().hello("local"),
      isTarget: new Greeter() instanceof RpcTarget,
      fromObject: await env.ROOM.getByName("a").viaCtxExports(),
      fromObjectDefault: await env.ROOM.getByName("a").viaDefault(),
      entrypoint: await exports.Math2.add(1, 2),
      email: [email.from, email.to],
      sockets: typeof connect,
    });
  },
};
`;

const WRANGLER_JSONC = `{
  "name": "modules",
  "main": "worker.js",
  "compatibility_date": "2025-06-01",
  "vars": { "OFFSET": "10" },
  "durable_objects": { "bindings": [{ "name": "ROOM", "class_name": "Room" }] },
  "migrations": [{ "tag": "v1", "new_sqlite_classes": ["Room"] }],
  "send_email": [{ "name": "MAIL" }],
  "workflows": [{ "name": "flow", "binding": "FLOW", "class_name": "Flow" }]
}`;

it("cloudflare:workers exports, ctx.exports loopbacks, WorkflowEntrypoint, RpcTarget, cloudflare:email", async () => {
  const dir = project({ "worker.js": WORKER_JS, "wrangler.jsonc": WRANGLER_JSONC });
  const server = await startTorpor(["dev", "--port", "0"], dir);
  onTestFinished(() => {
    if (server.child.exitCode === null) server.child.kill("SIGKILL");
  });
  const body = (await (await fetch(server.url)).json()) as Record<string, unknown>;
  expect(body).toEqual({
    sameRecord: true,
    keys: ["Math2", "Room", "default"],
    greet: "hello local",
    isTarget: true,
    fromObject: "pong from other",
    fromObjectDefault: "plain",
    entrypoint: 13,
    email: ["a@example.com", "b@example.com"],
    sockets: "function",
  });

  const target = await fetch(`${server.url}/rpc-target`);
  expect(await target.text()).toBe("by reference: hello gina");
  expect(target.status).toBe(200);

  const workflow = await fetch(`${server.url}/workflow`);
  expect(workflow.status).toBe(501);
  expect(await workflow.text()).toBe(
    "ERR_NOT_SUPPORTED: Workflows are not supported by Torpor: Flow cannot run. Durable Object alarms (ctx.storage.setAlarm) can schedule multi-step work instead.",
  );
  expect(server.stderr()).toContain('"send_email" is ignored: sending email is not supported');
  expect(server.stderr()).toContain(
    'wrangler.jsonc: "workflows" is ignored: Workflows are not provided (see "Queues and Workflows" in docs/compatibility.md): env.FLOW is undefined and Flow never runs.',
  );
});

it("a cloudflare:* module Torpor does not provide fails with one error naming it", async () => {
  const dir = project({ "worker.js": `import { Ai } from "cloudflare:ai";\nexport default { fetch() { return new Response(String(Ai)); } };\n` });
  const result = await runTorpor(["dev", "worker.js", "--port", "0"], dir);
  expect(result.code).toBe(1);
  expect(result.stderr).toContain(
    'The module "cloudflare:ai" is not provided by Torpor (it provides cloudflare:workers, cloudflare:email, cloudflare:sockets). Remove the import, or load it only where the code runs on Cloudflare.',
  );
  expect(result.stderr).not.toContain("ERR_UNSUPPORTED_ESM_URL_SCHEME");
});
