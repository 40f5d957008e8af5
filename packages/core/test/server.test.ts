import { Socket } from "node:net";
import { describe, expect, onTestFinished, test } from "vitest";
import { DurableObject, Response, Runtime, type DurableObjectNamespace, type ExecutionContext, type WebSocket } from "../src/index.ts";
import { Room } from "./fixtures.ts";
import { connect, recordingLogger, startRuntime } from "./helpers.ts";

const worker = {
  async fetch(request: Request, env: Record<string, unknown>, ctx: ExecutionContext) {
    const url = new URL(request.url);
    if (url.pathname === "/vars") return Response.json({ greeting: env.GREETING });
    if (url.pathname === "/boom") throw new Error("worker failed");
    if (url.pathname === "/echo-body") return new Response(await request.text(), { headers: { "x-len": String(request.headers.get("content-length")) } });
    const match = /^\/room\/([^/]+)/.exec(url.pathname);
    if (match === null) return new Response("not found", { status: 404 });
    ctx.waitUntil(Promise.resolve());
    const ns = env.ROOM as DurableObjectNamespace;
    return ns.get(ns.idFromName(match[1]!)).fetch(request);
  },
};

describe("HTTP and WebSocket server", () => {
  test("the Worker entry gets env with namespaces and vars, routes to objects", async () => {
    const { url, wsUrl } = await startRuntime({ objects: { ROOM: Room }, fetch: worker.fetch, env: { GREETING: "hi" } });
    expect(await (await fetch(`${url}/vars`)).json()).toEqual({ greeting: "hi" });
    const client = await connect(`${wsUrl}/room/lobby`);
    client.send("x");
    expect(await client.next()).toBe("echo:x");
    const body = "a".repeat(100_000);
    const echoed = await fetch(`${url}/echo-body`, { method: "POST", body });
    expect(await echoed.text()).toBe(body);
    expect(echoed.headers.get("x-len")).toBe("100000");
  });

  test("a Worker that throws answers 500, is logged, and the server goes on", async () => {
    const { url, logger } = await startRuntime({ objects: { ROOM: Room }, fetch: worker.fetch, env: { GREETING: "hi" } });
    const response = await fetch(`${url}/boom`);
    expect(response.status).toBe(500);
    expect(await response.json()).toEqual({ error: { code: "ERR_INTERNAL", message: "Internal Server Error" } });
    expect(logger.entries.some((e) => e.level === "error" && (e.fields?.error as Error | undefined)?.message === "worker failed")).toBe(true);
    expect((await fetch(`${url}/vars`)).status).toBe(200);
  });

  test("with errorDetails (torpor dev) the 500 shows the error as wrangler dev does: its stack as text, first line 'TypeError: message'", async () => {
    const listen = async (options: ConstructorParameters<typeof Runtime>[0]) => {
      const runtime = new Runtime({ ...options, logger: recordingLogger() });
      onTestFinished(() => runtime.close());
      return (await runtime.listen({ port: 0, errorDetails: true })).url;
    };
    const upgrade = await fetch(`${await listen({ objects: { ROOM: Room } })}/ROOM/x?force=1`);
    expect(upgrade.status).toBe(500);
    expect(upgrade.headers.get("content-type")).toBe("text/plain; charset=UTF-8");
    expect((await upgrade.text()).split("\n")[0]).toBe(
      'TypeError: Worker tried to return a WebSocket in a response to a request which did not contain the header "Upgrade: websocket".',
    );
    const thrown = await fetch(`${await listen({ objects: { ROOM: Room }, fetch: worker.fetch })}/boom`);
    expect(thrown.status).toBe(500);
    expect((await thrown.text()).split("\n")[0]).toBe("Error: worker failed");
  });

  test("an unknown object route is 404 with a stable code", async () => {
    const { url } = await startRuntime({ objects: { ROOM: Room } });
    const response = await fetch(`${url}/NOPE/x`);
    expect(response.status).toBe(404);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe("ERR_UNKNOWN_OBJECT");
  });

  test("a 101 with a WebSocket to a request without the Upgrade header is a 500 with workerd's TypeError logged", async () => {
    const { url, logger } = await startRuntime({ objects: { ROOM: Room } });
    const response = await fetch(`${url}/ROOM/x?force=1`);
    expect(response.status).toBe(500);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe("ERR_INTERNAL");
    const logged = logger.entries.find((e) => e.level === "error")!.fields!.error;
    expect(logged).toEqual(
      new TypeError('Worker tried to return a WebSocket in a response to a request which did not contain the header "Upgrade: websocket".'),
    );
    expect((logged as { code: string }).code).toBe("ERR_UPGRADE_REQUIRED");
  });

  test("an upgrade the object refuses gets the object's HTTP response", async () => {
    const { port } = await startRuntime({ objects: { ROOM: Room }, fetch: worker.fetch, env: {} });
    const raw = new Socket();
    await new Promise<void>((r) => raw.connect(port, "127.0.0.1", r));
    raw.write(
      "GET /nowhere HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    );
    const answer = await new Promise<string>((r) => raw.once("data", (d) => r(d.toString())));
    expect(answer).toMatch(/^HTTP\/1.1 404/);
    expect(answer).toMatch(/not found$/);
    raw.destroy();
  });

  test("invalid UTF-8 in a text frame closes with 1007", async () => {
    const { wsUrl } = await startRuntime({ objects: { ROOM: Room } });
    const client = await connect(`${wsUrl}/ROOM/utf8`);
    // A text frame carrying invalid UTF-8, bypassing the client's own validation.
    client.ws.send(Buffer.from([0xff, 0xfe, 0xfd]), { binary: false });
    expect((await client.closed).code).toBe(1007);
  });

  test("a message over maxMessageBytes closes with 1009", async () => {
    const { wsUrl } = await startRuntime({ objects: { ROOM: Room }, limits: { maxMessageBytes: 1024 } });
    const client = await connect(`${wsUrl}/ROOM/big`);
    client.send("ok");
    expect(await client.next()).toBe("echo:ok");
    client.send("x".repeat(2048));
    expect((await client.closed).code).toBe(1009);
  });

  test("in-process pairs: a Worker can talk to an object's socket without a network", async () => {
    const { runtime } = await startRuntime({ objects: { ROOM: Room } });
    const response = await runtime.fetch("http://local/ROOM/inproc", { headers: { upgrade: "websocket" } });
    expect(response.status).toBe(101);
    const ws = (response as Response).webSocket!;
    const messages: string[] = [];
    const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.addEventListener("close", (e) => resolve({ code: e.code, reason: e.reason })));
    const got = new Promise<void>((resolve) =>
      ws.addEventListener("message", (e) => {
        messages.push(String(e.data));
        if (messages.length === 2) resolve();
      }),
    );
    ws.accept();
    ws.send("one");
    ws.send("whoami");
    await got;
    expect(messages).toEqual(["echo:one", JSON.stringify({ user: "anon", joined: 1 })]);
    ws.send("close");
    expect(await closed).toEqual({ code: 4000, reason: "bye" });
    expect(ws.readyState).toBe(3);
  });

  test("messages the object sent before the client connected arrive first, in order", async () => {
    class Greeter extends DurableObject {
      override fetch() {
        const [client, server] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
        this.ctx.acceptWebSocket(server);
        server.send("welcome 1");
        server.send("welcome 2");
        return new Response(null, { status: 101, webSocket: client });
      }
    }
    const { wsUrl } = await startRuntime({ objects: { G: Greeter } });
    const client = await connect(`${wsUrl}/G/x`);
    expect([await client.next(), await client.next()]).toEqual(["welcome 1", "welcome 2"]);
  });

  test("close() shuts down gracefully: sockets get 1012, storage is committed, listen refused after", async () => {
    const { runtime, wsUrl } = await startRuntime({ objects: { ROOM: Room } });
    const client = await connect(`${wsUrl}/ROOM/bye`);
    client.send("put kept");
    expect(await client.next()).toBe("stored");
    await runtime.close();
    expect((await client.closed).code).toBe(1012);
    await expect(runtime.listen({ port: 0 })).rejects.toMatchObject({ code: "ERR_RUNTIME_CLOSED" });
  });
});

import { WebSocketPair } from "../src/index.ts";
