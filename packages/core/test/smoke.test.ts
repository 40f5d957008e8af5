import { expect, test } from "vitest";
import { DurableObject, Response, WebSocketPair, type WebSocket } from "../src/index.ts";
import { connect, startRuntime } from "./helpers.ts";

class Echo extends DurableObject {
  override async fetch(_request: Request) {
    const [client, server] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
    this.ctx.acceptWebSocket(server, ["echo"]);
    return new Response(null, { status: 101, webSocket: client });
  }
  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer) {
    ws.send(typeof message === "string" ? `echo:${message}` : message);
  }
}

test("echo over a real socket", async () => {
  const { wsUrl } = await startRuntime({ objects: { ECHO: Echo } });
  const client = await connect(`${wsUrl}/ECHO/a`);
  client.send("hi");
  expect(await client.next()).toBe("echo:hi");
});
