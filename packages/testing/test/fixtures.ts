import { DurableObject, Response, WebSocketPair, type DurableObjectState, type WebSocket } from "@torpor/core";

function pair(): [WebSocket, WebSocket] {
  return Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
}

/** A counter with storage, RPC and an alarm that can be told to fail. */
export class Counter extends DurableObject {
  /** Instance state: lost on eviction (that is what tests look for). */
  warm = 0;

  async increment(by = 1): Promise<number> {
    this.warm++;
    const value = ((await this.ctx.storage.get<number>("count")) ?? 0) + by;
    await this.ctx.storage.put("count", value);
    return value;
  }

  /** `at` comes from the test's clock: object code reading Date.now() would see real time. */
  async scheduleAlarm(at: number, failures = 0): Promise<void> {
    await this.ctx.storage.put("failures", failures);
    await this.ctx.storage.setAlarm(at);
  }

  /** How object code usually schedules: from the real `Date.now()`. */
  async scheduleAlarmIn(ms: number): Promise<void> {
    await this.ctx.storage.setAlarm(Date.now() + ms);
  }

  async alarmRuns(): Promise<Array<{ retryCount: number; isRetry: boolean }>> {
    return (await this.ctx.storage.get("runs")) ?? [];
  }

  override async alarm(info?: { retryCount: number; isRetry: boolean }): Promise<void> {
    const runs = (await this.ctx.storage.get<Array<{ retryCount: number; isRetry: boolean }>>("runs")) ?? [];
    runs.push({ retryCount: info?.retryCount ?? -1, isRetry: info?.isRetry ?? false });
    await this.ctx.storage.put("runs", runs);
    const failures = (await this.ctx.storage.get<number>("failures")) ?? 0;
    if (failures > 0) {
      await this.ctx.storage.put("failures", failures - 1);
      throw new Error("alarm failed on purpose");
    }
  }
}

/**
 * Accepts hibernatable sockets (`?name=` goes in the attachment, `?tag=` in
 * tags) and answers text commands; `?standard` accepts with ws.accept() instead.
 */
export class EchoRoom extends DurableObject {
  override fetch(request: Request): Response {
    const url = new URL(request.url);
    if (request.headers.get("upgrade") !== "websocket") return new Response(`no upgrade at ${url.pathname}`, { status: 426 });
    const [client, server] = pair();
    if (url.searchParams.has("standard")) {
      server.accept();
      server.addEventListener("message", (event) => server.send(`std:${String(event.data)}`));
    } else {
      this.ctx.acceptWebSocket(server, url.searchParams.getAll("tag"));
      server.serializeAttachment({ name: url.searchParams.get("name") ?? "anon", path: url.pathname });
    }
    return new Response(null, { status: 101, webSocket: client });
  }

  override webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): void {
    if (typeof message !== "string") ws.send(message);
    else if (message === "count") ws.send(String(this.ctx.getWebSockets().length));
    else if (message === "whoami") ws.send(JSON.stringify(ws.deserializeAttachment()));
    else if (message.startsWith("close ")) ws.close(Number(message.slice(6)), "asked to");
    else ws.send(`echo:${message}`);
  }

  closes: Array<{ code: number; reason: string }> = [];
  override webSocketClose(_ws: WebSocket, code: number, reason: string): void {
    this.closes.push({ code, reason });
  }
}

/**
 * The hibernation-safety bug class: per-socket state in an instance field.
 * Works until the instance is evicted; after a wake the Map is empty.
 */
export class NaiveChat extends DurableObject {
  readonly names = new Map<WebSocket, string>();

  override fetch(request: Request): Response {
    const [client, server] = pair();
    this.ctx.acceptWebSocket(server);
    this.names.set(server, new URL(request.url).searchParams.get("name") ?? "anon");
    return new Response(null, { status: 101, webSocket: client });
  }

  override webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): void {
    for (const peer of this.ctx.getWebSockets()) peer.send(`${this.names.get(ws)}: ${String(message)}`);
  }
}

/** The fix: per-socket state in the socket's attachment, which survives hibernation. */
export class SafeChat extends DurableObject {
  override fetch(request: Request): Response {
    const [client, server] = pair();
    this.ctx.acceptWebSocket(server);
    server.serializeAttachment({ name: new URL(request.url).searchParams.get("name") ?? "anon" });
    return new Response(null, { status: 101, webSocket: client });
  }

  override webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): void {
    const { name } = ws.deserializeAttachment<{ name: string }>()!;
    for (const peer of this.ctx.getWebSockets()) peer.send(`${name}: ${String(message)}`);
  }
}

/** Keeps itself pinned with a waitUntil promise the test resolves. */
export class Pinned extends DurableObject {
  release: (() => void) | null = null;
  hold(): void {
    this.ctx.waitUntil(new Promise<void>((resolve) => (this.release = resolve)));
  }
  unhold(): void {
    this.release?.();
  }
}

export const objects = { COUNTER: Counter, ROOM: EchoRoom, NAIVE: NaiveChat, SAFE: SafeChat, PINNED: Pinned };

export type { DurableObjectState };
