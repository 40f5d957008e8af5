// A broken object's sockets (test/reset.test.ts): A opens a WebSocket to B and accepts
// the client end, then resets itself with ctx.abort(); B records what its server end sees.
import { DurableObject } from "cloudflare:workers";

export class A extends DurableObject {
  async fetch(request) {
    const url = new URL(request.url);
    if (url.pathname === "/open") {
      const response = await this.env.B.get(this.env.B.idFromName("b")).fetch("http://b/", { headers: { Upgrade: "websocket" } });
      this.ws = response.webSocket;
      this.ws.accept();
      this.ws.send("hello");
      return new Response("open");
    }
    if (url.pathname === "/abort") this.ctx.abort("reset on purpose");
    return new Response("not found", { status: 404 });
  }
}

export class B extends DurableObject {
  async fetch(request) {
    if (new URL(request.url).pathname === "/seen") return Response.json((await this.ctx.storage.get("seen")) ?? []);
    const pair = new WebSocketPair();
    this.ctx.acceptWebSocket(pair[1]);
    return new Response(null, { status: 101, webSocket: pair[0] });
  }
  async record(event) {
    const seen = (await this.ctx.storage.get("seen")) ?? [];
    seen.push(event);
    await this.ctx.storage.put("seen", seen);
  }
  async webSocketMessage(_ws, message) {
    await this.record(`message ${message}`);
  }
  async webSocketClose(_ws, code, reason, wasClean) {
    await this.record(`close ${code} ${reason} ${wasClean}`);
  }
  async webSocketError(_ws, error) {
    await this.record(`error ${error}`);
  }
}

export default {
  async fetch(request, env) {
    if (new URL(request.url).pathname === "/seen") return env.B.get(env.B.idFromName("b")).fetch("http://b/seen");
    try {
      return await env.A.get(env.A.idFromName("a")).fetch(request);
    } catch (error) {
      return new Response(`${error.name}: ${error.message}`, { status: 500 });
    }
  },
};
