// RPC by reference works within one process only: in `torpor start --workers 2`,
// a call to an object owned by the other worker process refuses a function in
// its arguments, and an RpcTarget in its result, with ERR_RPC_CLONE (a clear
// error, not a hang), while a call to an object in the same process passes both.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { get } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type Server, startTorpor } from "./helpers.ts";

const WORKER = `
import { DurableObject, RpcTarget } from "cloudflare:workers";

class Greeter extends RpcTarget {
  hello(name) { return "hello " + name; }
}

export class Room extends DurableObject {
  pid() { return process.pid; }
  async callBack(callback) { return callback(2); }
  giveTarget() { return new Greeter(); }
}

async function attempt(fn) {
  try {
    return { value: await fn() };
  } catch (error) {
    return { error: { code: error.code, message: error.message } };
  }
}

export default {
  async fetch(request, env) {
    const name = new URL(request.url).pathname.slice(1);
    const room = env.ROOMS.getByName(name);
    return Response.json({
      via: process.pid,
      owner: await room.pid(),
      callback: await attempt(() => room.callBack((n) => n * 21)),
      target: await attempt(async () => (await room.giveTarget()).hello("gina")),
    });
  },
};
`;

let dir: string;
let server: Server;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "torpor-cluster-rpc-"));
  writeFileSync(join(dir, "worker.js"), WORKER);
  writeFileSync(
    join(dir, "wrangler.json"),
    JSON.stringify({
      main: "worker.js",
      compatibility_date: "2026-04-07",
      durable_objects: { bindings: [{ name: "ROOMS", class_name: "Room" }] },
      migrations: [{ tag: "v1", new_sqlite_classes: ["Room"] }],
    }),
  );
  server = await startTorpor(["start", "--workers", "2", "--port", "0", "--persist-to", join(dir, "data")], dir, 60_000);
}, 90_000);

afterAll(async () => {
  expect(await server?.stop()).toBe(0);
  rmSync(dir, { recursive: true, force: true });
});

/** One request on a fresh connection (the supervisor spreads connections over the workers). */
function visit(name: string): Promise<Record<string, any>> {
  return new Promise((resolve, reject) => {
    get(`${server.url}/${name}`, { agent: false }, (res) => {
      let text = "";
      res.setEncoding("utf8").on("data", (chunk: string) => (text += chunk));
      res.on("end", () => resolve(JSON.parse(text)));
    }).on("error", reject);
  });
}

it("a function or RpcTarget crossing to another worker process fails with ERR_RPC_CLONE; within one process it passes by reference", async () => {
  const seen = { local: 0, remote: 0 };
  // Enough names, each visited twice, that both a local and a routed call happen (ownership is spread by hash, connections alternate).
  for (let i = 0; i < 12 && (seen.local === 0 || seen.remote === 0); i++) {
    for (const visitResult of [await visit(`room-${i}`), await visit(`room-${i}`)]) {
      if (visitResult.via === visitResult.owner) {
        seen.local++;
        expect(visitResult.callback).toEqual({ value: 42 });
        expect(visitResult.target).toEqual({ value: "hello gina" });
      } else {
        seen.remote++;
        expect(visitResult.callback.error).toEqual({
          code: "ERR_RPC_CLONE",
          message: expect.stringMatching(/^The arguments of callBack\(\) holds a function: .*another worker process \(cluster mode\)/),
        });
        expect(visitResult.target.error).toEqual({
          code: "ERR_RPC_CLONE",
          message: expect.stringMatching(/^The result of giveTarget\(\) holds an RpcTarget \(Greeter\): .*another worker process/),
        });
      }
    }
  }
  expect(seen.local).toBeGreaterThan(0);
  expect(seen.remote).toBeGreaterThan(0);
}, 60_000);
