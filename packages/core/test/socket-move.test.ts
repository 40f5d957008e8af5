// Core's socket verbs: a host exports its hibernatable sockets (records, TCP sockets and
// unparsed bytes) and another runtime's host adopts them, as a cluster reload does between
// processes. Here both runtimes share one process; the client must notice nothing.
import { expect, test } from "vitest";
import { DurableObject, Response, WebSocketPair, WebSocketRequestResponsePair, type WebSocket } from "../src/index.ts";
import { connect, startRuntime } from "./helpers.ts";

function roomClass(version: string) {
  return class Room extends DurableObject {
    override async fetch(request: Request) {
      const [client, server] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
      this.ctx.acceptWebSocket(server, ["room", new URL(request.url).searchParams.get("tag") ?? "none"]);
      server.serializeAttachment({ user: "ann", acceptedBy: version });
      this.ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair("ping", "pong"));
      return new Response(null, { status: 101, webSocket: client });
    }
    override webSocketMessage(ws: WebSocket, message: string | ArrayBuffer) {
      const { user, acceptedBy } = ws.deserializeAttachment() as { user: string; acceptedBy: string };
      ws.send(`${version} ${String(message)} ${user} ${acceptedBy} ${this.ctx.getTags(ws).join(",")} ${this.ctx.getWebSockets("room").length}`);
    }
  };
}

test("exportSockets() on one runtime and adoptSocket() on another move a live socket: no close, messages sent meanwhile arrive once and in order", async () => {
  const a = await startRuntime({ objects: { ROOM: roomClass("a") } });
  const b = await startRuntime({ objects: { ROOM: roomClass("b") } });
  const client = await connect(`${a.wsUrl}/ROOM/lobby/?tag=t1`);
  client.send("one");
  expect(await client.next()).toBe("a one ann a room,t1 1");

  const host = a.runtime.hostFor(a.runtime.namespace("ROOM").getByName("lobby"));
  const exporting = host.exportSockets();
  // Sent while the socket is on its way: read by whichever process holds it next.
  client.send("two");
  client.send("three");
  const exported = await exporting;
  a.runtime.forget(host);
  expect(exported.closed).toBe(0);
  expect(exported.sockets).toHaveLength(1);
  expect(exported.autoResponse).toMatchObject({ request: "ping", response: "pong" });
  expect(host.socketCount).toBe(0);

  const target = b.runtime.hostForKey(host.key, true);
  target.autoResponse = exported.autoResponse;
  for (const { record, socket, unparsed } of exported.sockets) target.adoptSocket(record, socket, unparsed);

  expect(await client.next()).toBe("b two ann a room,t1 1");
  expect(await client.next()).toBe("b three ann a room,t1 1");
  client.send("ping");
  expect(await client.next()).toBe("pong");
  expect(target.counters.constructed).toBe(1);
  expect(a.runtime.objects()).toEqual([]);
  // No close reached the client on the way.
  const closedYet = await Promise.race([client.closed, Promise.resolve("open")]);
  expect(closedYet).toBe("open");
});

test("dropSockets() drops an object's hibernatable sockets without a handshake: the client sees 1006 and no handler runs", async () => {
  const seen: string[] = [];
  class Room extends roomClass("a") {
    override webSocketClose() {
      seen.push("close");
    }
  }
  const { runtime, wsUrl } = await startRuntime({ objects: { ROOM: Room } });
  const client = await connect(`${wsUrl}/ROOM/drop/`);
  const host = runtime.hostFor(runtime.namespace("ROOM").getByName("drop"));
  host.dropSockets();
  expect(await client.closed).toMatchObject({ code: 1006 });
  expect(host.socketCount).toBe(0);
  await host.drained();
  expect(seen).toEqual([]);
});
