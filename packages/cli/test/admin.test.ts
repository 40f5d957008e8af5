/**
 * Who may use the admin endpoint, over real sockets: a foreign Host header
 * (DNS rebinding) is refused, state changes need the token or a header a
 * cross-site form cannot send, a token (when set) is needed everywhere,
 * and an endpoint reachable from other machines needs a token to start.
 */
import { request } from "node:http";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DurableObject, Runtime, silentLogger } from "@torpor/core";
import { expect, it, onTestFinished } from "vitest";
import { checkAdminExposure } from "../src/admin-access.ts";
import { startAdmin } from "../src/admin.ts";
import { runTorpor, startTorpor } from "./helpers.ts";

class Thing extends DurableObject {
  ping() {
    return "pong";
  }
}

async function setUp(token: string | null) {
  const runtime = new Runtime({ objects: { THINGS: Thing }, logger: silentLogger, installGlobals: false });
  onTestFinished(() => runtime.close());
  const admin = await startAdmin(runtime, { port: 0, host: "127.0.0.1", logger: silentLogger, token });
  onTestFinished(() => admin.close());
  const stub = runtime.namespace<Thing>("THINGS").getByName("a");
  await stub.ping();
  const port = Number(new URL(admin.url).port);
  /** A request with full control of the headers (fetch may not set Host). */
  const call = (method: string, path: string, headers: Record<string, string> = {}) =>
    new Promise<{ status: number; code: string | undefined; body: string }>((resolve, reject) => {
      const req = request({ host: "127.0.0.1", port, method, path, headers: { host: `127.0.0.1:${port}`, ...headers } }, (res) => {
        let body = "";
        res.setEncoding("utf8").on("data", (c: string) => (body += c));
        res.on("end", () => {
          let code: string | undefined;
          try {
            code = (JSON.parse(body) as { error?: { code?: string } }).error?.code;
          } catch {}
          resolve({ status: res.statusCode!, code, body });
        });
      });
      req.on("error", reject);
      req.end();
    });
  return { runtime, stub, port, call };
}

it("refuses a Host that is not the endpoint's address (DNS rebinding), on reads too", async () => {
  const { call, port } = await setUp(null);
  expect((await call("GET", "/objects")).status).toBe(200);
  expect((await call("GET", "/objects", { host: `localhost:${port}` })).status).toBe(200);
  const rebound = await call("GET", "/objects", { host: `attacker.example:${port}` });
  expect(rebound).toMatchObject({ status: 403, code: "ERR_ADMIN_HOST" });
  expect(rebound.body).not.toContain("THINGS");
  expect(await call("GET", "/metrics", { host: "attacker.example" })).toMatchObject({ status: 403, code: "ERR_ADMIN_HOST" });
});

it("without a token, a state-changing request needs the X-Torpor-Admin header (a cross-site form cannot send one)", async () => {
  const { call, runtime, stub } = await setUp(null);
  // What a form POST from any web page would send.
  const form = await call("POST", "/objects/THINGS/a/hibernate", { "content-type": "application/x-www-form-urlencoded" });
  expect(form).toMatchObject({ status: 403, code: "ERR_ADMIN_HEADER_REQUIRED" });
  expect(runtime.inspect(stub).state).toBe("live");
  expect(await call("POST", "/objects/THINGS/a/hibernate", { "x-torpor-admin": "1" })).toMatchObject({ status: 200 });
  expect(runtime.inspect(stub).state).toBe("hibernated");
});

it("with a token, every request needs Authorization: Bearer <token>", async () => {
  const { call, runtime, stub } = await setUp("s3cret-token");
  expect(await call("GET", "/objects")).toMatchObject({ status: 401, code: "ERR_ADMIN_UNAUTHORIZED" });
  expect(await call("GET", "/objects", { authorization: "Bearer wrong" })).toMatchObject({ status: 401, code: "ERR_ADMIN_UNAUTHORIZED" });
  expect(await call("POST", "/objects/THINGS/a/hibernate", { "x-torpor-admin": "1" })).toMatchObject({ status: 401 });
  expect(runtime.inspect(stub).state).toBe("live");
  expect((await call("GET", "/objects", { authorization: "Bearer s3cret-token" })).status).toBe(200);
  expect((await call("POST", "/objects/THINGS/a/hibernate", { authorization: "Bearer s3cret-token" })).status).toBe(200);
  expect(runtime.inspect(stub).state).toBe("hibernated");
});

it("bad %-encoding in an admin path is 400, not a 500", async () => {
  const { call } = await setUp(null);
  expect(await call("POST", "/objects/%E0%A4%A/x/hibernate", { "x-torpor-admin": "1" })).toMatchObject({ status: 400, code: "ERR_BAD_REQUEST" });
});

it("an endpoint reachable beyond loopback needs a token to start", async () => {
  const runtime = new Runtime({ objects: { THINGS: Thing }, logger: silentLogger, installGlobals: false });
  onTestFinished(() => runtime.close());
  await expect(startAdmin(runtime, { port: 0, host: "0.0.0.0", logger: silentLogger, token: null })).rejects.toMatchObject({
    code: "ERR_ADMIN_TOKEN_REQUIRED",
  });
});

/** A project with one Worker; `admin` is the --admin-ip. */
function adminProject(adminIp: string): { dir: string; args: string[] } {
  const dir = mkdtempSync(join(tmpdir(), "torpor-admin-"));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, "entry.js"), `export default { fetch: () => new Response("ok") };\n`);
  const args = ["dev", "entry.js", "--port", "0", "--admin-port", "0", "--admin-ip", adminIp, "--persist-to", join(dir, "data"), "--max-header-bytes", "1024"];
  return { dir, args };
}

it("torpor --admin-ip 0.0.0.0 refuses to start without a token", async () => {
  const { dir, args } = adminProject("0.0.0.0");
  const refused = await runTorpor(args, dir);
  expect(refused.code).toBe(1);
  expect(refused.stderr).toMatch(/^torpor: The admin endpoint would listen on 0\.0\.0\.0, reachable from other machines, without a token\./m);
});

it("an address reachable from other machines is allowed with a token, and only then", () => {
  // The started server below listens on loopback only (servers here never bind other addresses); this is the rule
  // that lets 0.0.0.0 start once TORPOR_ADMIN_TOKEN is set.
  expect(() => checkAdminExposure("0.0.0.0", "from-env")).not.toThrow();
  expect(() => checkAdminExposure("0.0.0.0", null)).toThrow(/reachable from other machines, without a token/);
  expect(() => checkAdminExposure("127.0.0.1", null)).not.toThrow();
});

it("TORPOR_ADMIN_TOKEN guards the admin endpoint (server limit flags reach the runtime)", async () => {
  const { dir, args } = adminProject("127.0.0.1");
  const server = await startTorpor(args, dir, undefined, { TORPOR_ADMIN_TOKEN: "from-env" });
  onTestFinished(() => void server.child.kill("SIGKILL"));
  await expect.poll(() => /^Admin on (\S+)$/m.test(server.stdout())).toBe(true);
  const adminUrl = /^Admin on (\S+)$/m.exec(server.stdout())![1]!;
  expect((await fetch(`${adminUrl}/objects`)).status).toBe(401);
  expect((await fetch(`${adminUrl}/objects`, { headers: { authorization: "Bearer from-env" } })).status).toBe(200);
  expect((await fetch(server.url, { headers: { "x-big": "a".repeat(2_048) } })).status).toBe(431);
  expect(await server.stop()).toBe(0);
});
