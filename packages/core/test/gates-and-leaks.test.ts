import { describe, expect, test, vi } from "vitest";
import { DurableObject, Response, VirtualClock, WebSocketPair, memoryStorage, type DurableObjectState, type WebSocket } from "../src/index.ts";
import { connect, startRuntime } from "./helpers.ts";

let closeStarted = false;
let failCommits = 0;

class Gated extends DurableObject {
  constructor(ctx: DurableObjectState, env: unknown) {
    super(ctx, env as never);
    ctx.setHibernatableWebSocketEventTimeout(1_000);
  }
  override fetch(request: Request): Response {
    const [client, server] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
    if (new URL(request.url).searchParams.has("halfopen")) {
      server.accept({ allowHalfOpen: true });
      // The application answers the peer's Close itself, a little later (after an await).
      server.addEventListener("close", async (event) => {
        await Promise.resolve();
        server.close(event.code, "bye");
      });
    } else {
      this.ctx.acceptWebSocket(server);
    }
    return new Response(null, { status: 101, webSocket: client });
  }
  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    if (message === "block") {
      await this.ctx.blockConcurrencyWhile(async () => {
        throw new Error("loading failed");
      });
    } else if (message === "write-then-close") {
      await this.ctx.storage.put("k", 1);
      ws.close(1000, "done");
    } else {
      ws.send(`pong ${String(message)}`);
    }
  }
  override async webSocketClose(): Promise<void> {
    closeStarted = true;
    // Never settles: the event timeout abandons it.
    await new Promise(() => {});
  }
  count(): number {
    return this.ctx.getWebSockets().length;
  }
}

async function setup(clock?: VirtualClock) {
  const storage = memoryStorage({
    beforeCommit() {
      if (failCommits > 0) {
        failCommits--;
        throw new Error("disk full (injected)");
      }
    },
  });
  const started = await startRuntime({ objects: { G: Gated }, storage, ...(clock ? { clock } : {}) });
  return { ...started, stub: started.runtime.namespace<Gated>("G").getByName("g"), socketUrl: `${started.wsUrl}/G/g` };
}

describe("gates", () => {
  test("a blockConcurrencyWhile() callback that throws resets the object (its sockets close with 1011)", async () => {
    const { socketUrl, logger, runtime, stub } = await setup();
    const client = await connect(socketUrl);
    client.send("block");
    expect((await client.closed).code).toBe(1011);
    expect(logger.entries.map((e) => e.message)).toContain("A blockConcurrencyWhile() callback threw; resetting the object");
    expect(runtime.inspect(stub).state).toBe("hibernated");
  });

  test("a reset closes a socket whose close() was held behind the failed commit", async () => {
    const { socketUrl } = await setup();
    const client = await connect(socketUrl);
    failCommits = 1;
    client.send("write-then-close");
    expect((await client.closed).code).toBe(1011);
  });
});

describe("leaks", () => {
  test("a socket accepted with allowHalfOpen no longer pins its object once the object answered the Close", async () => {
    const { socketUrl, runtime, stub } = await setup();
    const client = await connect(`${socketUrl}?halfopen`);
    client.close(1000, "leaving");
    expect((await client.closed).reason).toBe("bye");
    await vi.waitFor(() => expect(runtime.inspect(stub).blockers).toEqual([]));
    await runtime.hibernate(stub);
    expect(runtime.inspect(stub).state).toBe("hibernated");
  });

  test("a webSocketClose() abandoned by the event timeout leaves no socket in getWebSockets()", async () => {
    closeStarted = false;
    const clock = new VirtualClock();
    const { socketUrl, stub } = await setup(clock);
    const client = await connect(socketUrl);
    expect(await stub.count()).toBe(1);
    client.close(1000);
    await vi.waitFor(() => expect(closeStarted).toBe(true));
    await clock.advance(1_000);
    expect(await stub.count()).toBe(0);
  });
});
