import { createServer } from "node:http";
import type { Socket } from "node:net";
import { describe, expect, onTestFinished, test, vi } from "vitest";
import { DurableObject, Response, VirtualClock, WebSocketPair, type WebSocket } from "../src/index.ts";
import { connect, startRuntime } from "./helpers.ts";

/**
 * An object with a pending setTimeout/setInterval does not hibernate (as on
 * Cloudflare), and the timer is what `inspect()` (and so the admin's
 * /objects) names as keeping it live. Before, the instance was dropped after
 * hibernateAfterMs and its timers ran on in a dead instance (storage closed),
 * one more per wake. A reset cancels the discarded instance's timers.
 */

let fired = 0;
let ticks = 0;
let lastInterval: NodeJS.Timeout | undefined;

class Ticker extends DurableObject {
  #interval: ReturnType<typeof setInterval> | undefined;
  later(ms: number): void {
    setTimeout(() => {
      fired++;
    }, ms);
  }
  every(ms: number): void {
    this.#interval = setInterval(() => {
      ticks++;
    }, ms);
    lastInterval = this.#interval as unknown as NodeJS.Timeout;
  }
  stop(): void {
    clearInterval(this.#interval);
  }
  cancelById(ms: number): void {
    const timer = setTimeout(() => fired++, ms);
    clearTimeout(Number(timer) as unknown as ReturnType<typeof setTimeout>);
  }
  abort(): void {
    this.ctx.abort("test reset");
  }
}

let lastTimeout: NodeJS.Timeout | undefined;
/** Settles the promise a Lingerer left behind (no event awaits it). */
let wake: (() => void) | undefined;

class Lingerer extends DurableObject {
  override fetch(): Response {
    const [client, server] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
    this.ctx.acceptWebSocket(server);
    return new Response(null, { status: 101, webSocket: client });
  }
  override webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): void {
    if (message !== "linger") {
      ws.send(`pong ${String(message)}`);
      return;
    }
    // Left behind: an unref()ed timer (pins nothing) and a promise no event awaits.
    lastTimeout = setTimeout(() => ws.send("zombie timer"), 60_000).unref();
    void new Promise<void>((resolve) => (wake = resolve)).then(() => ws.send("zombie"));
    ws.send("lingering");
  }
}

let alarms = 0;

class Reminder extends DurableObject {
  async remind(ms: number): Promise<void> {
    await this.ctx.storage.setAlarm(Date.now() + ms);
  }
  override async alarm(): Promise<void> {
    alarms++;
  }
}

class Fetcher extends DurableObject {
  /** Starts a fetch no event awaits (its response is dropped). */
  start(url: string): void {
    void fetch(url).then(
      (response) => response.text(),
      () => undefined,
    );
  }
}

describe("timers of object code", () => {
  test("an object with a pending setTimeout stays live past hibernateAfterMs and says why; it hibernates once the timer fired", async () => {
    fired = 0;
    const clock = new VirtualClock();
    const { runtime } = await startRuntime({ objects: { T: Ticker }, clock, hibernateAfterMs: 1_000 });
    const stub = runtime.namespace<Ticker>("T").getByName("a");
    await stub.later(0);
    await vi.waitFor(() => expect(fired).toBe(1));
    // A timer that has fired pins nothing: idle hibernation goes ahead.
    await clock.advance(1_000);
    expect(runtime.inspect(stub).state).toBe("hibernated");

    fired = 0;
    await stub.later(60_000);
    expect(runtime.inspect(stub).blockers).toEqual([
      "1 timer(s) pending (setTimeout/setInterval; an object with pending timers does not hibernate, as on Cloudflare)",
    ]);
    await clock.advance(5_000);
    expect(runtime.inspect(stub).state).toBe("live");
    await expect(runtime.hibernate(stub)).rejects.toMatchObject({ code: "ERR_NOT_HIBERNATABLE", message: expect.stringContaining("1 timer(s) pending") });
  });

  test("an interval pins the object until it is cleared; a timer cleared by its id pins nothing", async () => {
    const clock = new VirtualClock();
    const { runtime } = await startRuntime({ objects: { T: Ticker }, clock, hibernateAfterMs: 1_000 });
    const stub = runtime.namespace<Ticker>("T").getByName("b");
    await stub.every(60_000);
    await clock.advance(2_000);
    expect(runtime.inspect(stub).state).toBe("live");
    await stub.stop();
    expect(runtime.inspect(stub).blockers).toEqual([]);
    await clock.advance(1_000);
    expect(runtime.inspect(stub).state).toBe("hibernated");
    await stub.cancelById(60_000);
    expect(runtime.inspect(stub).blockers).toEqual([]);
  });

  test("a reset cancels the timers of the instance it discards", async () => {
    ticks = 0;
    const { runtime } = await startRuntime({ objects: { T: Ticker } });
    const stub = runtime.namespace<Ticker>("T").getByName("c");
    await stub.every(1);
    await vi.waitFor(() => expect(ticks).toBeGreaterThan(0));
    await expect(stub.abort()).rejects.toMatchObject({ code: "ERR_OBJECT_RESET" });
    // Node marks a cleared timer destroyed (lib/internal/timers.js): the interval will not run again.
    expect((lastInterval as unknown as { _destroyed: boolean })._destroyed).toBe(true);
  });

  test("hibernation cancels the unref()ed timers of the instance it drops, and code of it still running sends nothing", async () => {
    const { runtime, wsUrl } = await startRuntime({ objects: { L: Lingerer } });
    const client = await connect(`${wsUrl}/L/x`);
    client.send("linger");
    expect(await client.next()).toBe("lingering");
    const stub = runtime.namespace<Lingerer>("L").getByName("x");
    await runtime.hibernate(stub);
    expect(runtime.inspect(stub).state).toBe("hibernated");
    expect((lastTimeout as unknown as { _destroyed: boolean })._destroyed).toBe(true);
    // The dropped instance's leftover promise settles: its send must not reach the client (the next instance answers the ping).
    wake!();
    client.send("ping");
    expect(await client.next()).toBe("pong ping");
  });

  test("the runtime's own timers are not the object's: an alarm armed during an event fires after the object hibernated", async () => {
    // The alarm scheduler arms its timer (systemClock, real time) when the
    // batch that set the alarm commits, inside the object's event. Counted
    // as the object's own timer, hibernation cancelled it with the dropped
    // instance's timers and the alarm never fired (the Agents SDK's
    // schedule() while hibernated, compat/libraries/agents-app).
    alarms = 0;
    const { runtime } = await startRuntime({ objects: { R: Reminder } });
    const stub = runtime.namespace<Reminder>("R").getByName("r");
    await stub.remind(300);
    expect(runtime.inspect(stub).blockers).toEqual([]);
    await runtime.hibernate(stub);
    expect(runtime.inspect(stub).state).toBe("hibernated");
    await vi.waitFor(() => expect(alarms).toBe(1), { timeout: 10_000 });
  });

  test("Node's fetch() from object code arms its timers outside the object: hibernation does not cancel them", async () => {
    // Node's fetch (undici) drives its connect, headers and body timeouts
    // from one process-wide timer (its callback is named onTick), created
    // with the global setTimeout on first use and only refreshed after that
    // (refresh() does not revive a cleared timer). Created inside an
    // object's event, it counted as that object's timer until its first
    // tick (~0.5 s): hibernating the object in that window cancelled it, and
    // no fetch timeout of the process fired again. Its pooled sockets' timers
    // (keep-alive) were the object's too. This must be the process's first
    // fetch (nothing earlier in this file fetches).
    const server = createServer((_request, response) => response.end("hello"));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    onTestFinished(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/`;
    const { runtime } = await startRuntime({ objects: { F: Fetcher } });
    const stub = runtime.namespace<Fetcher>("F").getByName("f");
    // Watches what undici arms through the global setTimeout (the runtime's tracked one, installed by now).
    const seen: NodeJS.Timeout[] = [];
    const tracked = globalThis.setTimeout;
    globalThis.setTimeout = function (this: unknown, ...args: Parameters<typeof setTimeout>) {
      const timer = (tracked as (...a: unknown[]) => NodeJS.Timeout).apply(this, args);
      if ((args[0] as { name?: string }).name === "onTick") seen.push(timer);
      return timer;
    } as typeof setTimeout;
    try {
      await stub.start(url);
      await vi.waitFor(() => expect(seen.length).toBe(1));
    } finally {
      globalThis.setTimeout = tracked;
    }
    // Hibernated at once, while its fetch is under way (well within the first tick).
    await runtime.hibernate(stub);
    expect(runtime.inspect(stub).state).toBe("hibernated");
    expect((seen[0] as unknown as { _destroyed: boolean })._destroyed).toBe(false);
    expect(await (await fetch(url)).text()).toBe("hello");
  });
});
