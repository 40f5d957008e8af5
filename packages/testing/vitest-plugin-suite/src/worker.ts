import { DurableObject, WorkerEntrypoint, env as moduleEnv } from "cloudflare:workers";
// Module rules (wrangler's defaults): Text, CompiledWasm and Data imports.
import hello from "./modules/hello.txt";
import add from "./modules/add.wasm";
import bytes from "./modules/bytes.bin";

interface Env {
  GREETING: string;
  BOX: DurableObjectNamespace<Box>;
  CACHE: KVNamespace;
}

/** What module-level code saw of env when the Worker was loaded. */
export const envAtLoad = { greeting: (moduleEnv as Partial<Env>).GREETING };

/** Keeps values, counts its constructions in a field, echoes over hibernatable WebSockets. */
export class Box extends DurableObject<Env> {
  field = 0;

  override async fetch(request: Request): Promise<Response> {
    if (request.headers.get("Upgrade") === "websocket") {
      const { 0: client, 1: server } = new WebSocketPair();
      this.ctx.acceptWebSocket(server, ["echo"]);
      return new Response(null, { status: 101, webSocket: client });
    }
    this.field++;
    return new Response(String(this.field));
  }

  override webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): void {
    ws.send(`echo ${String(message)}`);
  }

  async put(key: string, value: unknown): Promise<void> {
    await this.ctx.storage.put(key, value);
  }

  async get(key: string): Promise<unknown> {
    return this.ctx.storage.get(key);
  }

  async setAlarmIn(ms: number, failures: number): Promise<void> {
    await this.ctx.storage.put("failures", failures);
    await this.ctx.storage.setAlarm(Date.now() + ms);
  }

  override async alarm(info?: AlarmInvocationInfo): Promise<void> {
    const calls = ((await this.ctx.storage.get<unknown[]>("alarmCalls")) ?? []).concat([info ?? null]);
    await this.ctx.storage.put("alarmCalls", calls);
    const failures = (await this.ctx.storage.get<number>("failures")) ?? 0;
    if (failures > 0) {
      await this.ctx.storage.put("failures", failures - 1);
      throw new Error("alarm failed on purpose");
    }
  }
}

/** A named entrypoint, reached through the GREETER service binding and `exports.Greeter`. */
export class Greeter extends WorkerEntrypoint<Env> {
  hello(name: string): string {
    return `${this.env.GREETING}, ${name}`;
  }
}

export default {
  async fetch(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname === "/modules") {
      const instance = await WebAssembly.instantiate(add);
      const sum = (instance.exports.add as (a: number, b: number) => number)(2, 40);
      return Response.json({ hello, wasm: add instanceof WebAssembly.Module, sum, bytes: [bytes instanceof ArrayBuffer, [...new Uint8Array(bytes)]] });
    }
    if (url.pathname === "/later") {
      ctx.waitUntil(scheduler.wait(10).then(() => env.BOX.getByName("later").put("done", true)));
      return new Response("accepted");
    }
    if (url.pathname.startsWith("/kv/")) return new Response(await env.CACHE.get(url.pathname.slice(4)));
    const name = url.pathname.slice(1) || "default";
    return env.BOX.getByName(name).fetch(request);
  },
};
