// Open connections keep an object in memory (test/keepalive.test.ts): A answers with the id of its
// instance (made in its constructor); /open makes it accept the client end of a WebSocket B
// returned. One A ("held") holds such a socket open, another ("plain") holds nothing: both idle,
// the plain one is evicted and comes back as a new instance, the held one must not be.
import { DurableObject } from "cloudflare:workers";

export class A extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    this.instance = crypto.randomUUID();
  }
  async fetch(request) {
    if (new URL(request.url).pathname.endsWith("/open")) {
      const response = await this.env.B.get(this.env.B.idFromName("b")).fetch("http://b/", { headers: { Upgrade: "websocket" } });
      this.ws = response.webSocket;
      this.ws.accept();
    }
    return new Response(this.instance);
  }
}

export class B extends DurableObject {
  async fetch() {
    const pair = new WebSocketPair();
    this.ctx.acceptWebSocket(pair[1]);
    return new Response(null, { status: 101, webSocket: pair[0] });
  }
}

export default {
  async fetch(request, env) {
    const [, name] = new URL(request.url).pathname.split("/");
    return env.A.get(env.A.idFromName(name)).fetch(request);
  },
};
