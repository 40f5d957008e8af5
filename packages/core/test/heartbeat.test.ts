/**
 * Dead-peer detection: protocol pings on the runtime's clock (advanced by
 * the test, never slept for), answered below the object so a hibernated
 * object stays asleep; a peer that stops answering is dropped and its
 * object gets webSocketClose(1006, wasClean false).
 */
import { expect, onTestFinished, test } from "vitest";
import { WebSocket as WsClient } from "ws";
import { DurableObject, Response, VirtualClock, WebSocketPair, WebSocketRequestResponsePair, type WebSocket } from "../src/index.ts";
import { startRuntime } from "./helpers.ts";

const closes: Array<{ code: number; reason: string; wasClean: boolean }> = [];

class Lobby extends DurableObject {
  override fetch() {
    this.ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair("are-you-there", "yes"));
    const [client, server] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
    this.ctx.acceptWebSocket(server);
    return new Response(null, { status: 101, webSocket: client });
  }
  override webSocketClose(_ws: WebSocket, code: number, reason: string, wasClean: boolean) {
    closes.push({ code, reason, wasClean });
  }
}

/** A raw ws client that records pings; `autoPong: false` plays a peer that stopped answering. */
async function client(url: string, autoPong: boolean) {
  const ws = new WsClient(url, { autoPong });
  ws.on("error", () => {});
  onTestFinished(() => ws.terminate());
  const pings: number[] = [];
  const waiting: Array<() => void> = [];
  ws.on("ping", () => {
    pings.push(1);
    for (const w of waiting.splice(0)) w();
  });
  const closed = new Promise<number>((resolve) => ws.once("close", (code) => resolve(code)));
  await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
  return {
    ws,
    pings,
    closed,
    nextPing: (seen: number) => (pings.length > seen ? Promise.resolve() : new Promise<void>((resolve) => waiting.push(resolve))),
    /** The auto-response round trip: answered by the host without waking the object, and ordered after anything this client sent before. */
    roundTrip: () =>
      new Promise<string>((resolve) => {
        ws.once("message", (data) => resolve(String(data)));
        ws.send("are-you-there");
      }),
  };
}

test("pings find a peer that stopped answering without waking the hibernated object; its object gets webSocketClose(1006)", async () => {
  closes.length = 0;
  const clock = new VirtualClock();
  const { runtime, wsUrl } = await startRuntime({ objects: { L: Lobby }, clock, server: { pingIntervalMs: 1_000 } });
  const alive = await client(`${wsUrl}/L/room`, true);
  const silent = await client(`${wsUrl}/L/room`, false);
  const stub = runtime.namespace("L").getByName("room");
  await runtime.hibernate(stub);
  const before = runtime.inspect(stub).counters;

  await clock.advance(1_000);
  await Promise.all([alive.nextPing(0), silent.nextPing(0)]);
  // The alive client's pong travels before this message, so the server has seen it.
  expect(await alive.roundTrip()).toBe("yes");
  expect(runtime.inspect(stub).state).toBe("hibernated");
  expect(runtime.inspect(stub).counters.woken).toBe(before.woken);

  await clock.advance(1_000);
  expect(await silent.closed).toBe(1006);
  await expect.poll(() => closes).toEqual([{ code: 1006, reason: "WebSocket disconnected without sending Close frame.", wasClean: false }]);
  await alive.nextPing(1);
  expect(await alive.roundTrip()).toBe("yes");
  expect(alive.ws.readyState).toBe(WsClient.OPEN);
});

test("pingIntervalMs 0 turns pings off", async () => {
  const clock = new VirtualClock();
  const { wsUrl } = await startRuntime({ objects: { L: Lobby }, clock, server: { pingIntervalMs: 0 } });
  const quiet = await client(`${wsUrl}/L/quiet`, false);
  await clock.advance(60_000);
  await clock.advance(60_000);
  // A ping sent at either advance would arrive before this answer.
  expect(await quiet.roundTrip()).toBe("yes");
  expect(quiet.pings).toEqual([]);
  expect(quiet.ws.readyState).toBe(WsClient.OPEN);
});
