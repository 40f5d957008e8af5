/**
 * A TCP proxy in front of a server, for fault tests: it forwards bytes both
 * ways and can, on command, delay them (a slow link), swallow everything (a
 * blackhole: connections stay open, nothing arrives), or drop a connection at
 * a precise point of the protocol: right after the server answered a matching
 * request (the statement ran, its reply is lost) or before the request
 * reaches the server (it never ran), or hold what clients send and deliver it
 * late (a stalled link: what a client sent reaches the server after the
 * stall, even if the client has gone meanwhile, as a write from a paused or
 * partitioned process does), either on every connection or only on those
 * that send a matching statement (a stalled lease renewal while the node's
 * other connections flow). Listens on 127.0.0.1, port 0.
 */
import { createServer, connect, type Server, type Socket } from "node:net";

/** What the proxy does to a client chunk that contains a trigger. */
export type DropPoint = "after-reply" | "before-request";

/** A running proxy. */
export interface FaultProxy {
  readonly port: number;
  /** Open client connections. */
  readonly connections: number;
  /** Extra delay per chunk in each direction, ms (0: none). */
  delayMs: number;
  /** Swallows all bytes both ways and holds new connections silently (true), or forwards (false). */
  blackhole: boolean;
  /**
   * Holds every client byte (true) instead of forwarding it; set back to
   * false, what was held goes to the server in order, also for connections
   * whose client went away meanwhile (closed only after that).
   */
  hold: boolean;
  /**
   * A connection whose client sends a chunk containing this text is held from
   * that chunk on, as with `hold` but only that connection; set back to null,
   * what was held goes to the server (unless `hold` is on).
   */
  stallMatching: string | null;
  /**
   * At most this many bytes of the server's answer pass per client request (null: no cap); the rest waits for the
   * client's next bytes. A link that carries only so much within a query's deadline, whatever the machine's speed:
   * a query whose answer is larger never completes (its deadline fires), a smaller one is not slowed.
   */
  replyCapBytes: number | null;
  /**
   * Forwards only this many more new connections (null: all); later ones are accepted and then held silently, as
   * behind a blackholed route, so their connect times out. Existing connections are not affected.
   */
  admit: number | null;
  /** The next client chunk containing `match` drops its connection at `point`; resolves when it happened. */
  dropOnce(match: string, point: DropPoint): Promise<void>;
  /** Destroys every open connection (a cut link). */
  cutAll(): void;
  close(): Promise<void>;
}

interface Trigger {
  match: Buffer;
  point: DropPoint;
  done(): void;
}

/** Starts a proxy to `target` (host and port), listening on `listenHost` (default 127.0.0.1), port 0. */
export async function startFaultProxy(target: { host: string; port: number }, listenHost = "127.0.0.1"): Promise<FaultProxy> {
  const open = new Set<Socket>();
  const triggers: Trigger[] = [];
  const state = {
    delayMs: 0,
    blackhole: false,
    hold: false,
    stallMatching: null as Buffer | null,
    replyCapBytes: null as number | null,
    admit: null as number | null,
  };
  /** Per connection, client bytes held back while `hold` is on, and what releases them. */
  const held = new Map<Socket, { chunks: Buffer[]; release(): void }>();

  const pipe = (from: Socket, to: Socket, onChunk?: (chunk: Buffer) => boolean, stall?: (chunk: Buffer) => boolean) => {
    from.on("data", (chunk: Buffer) => {
      if (state.blackhole) return;
      if (onChunk !== undefined && !onChunk(chunk)) return;
      if (stall?.(chunk) === true) return;
      if (state.delayMs > 0) {
        // Keep order: pause reading while a delayed chunk waits.
        from.pause();
        setTimeout(() => {
          if (!to.destroyed) to.write(chunk);
          from.resume();
        }, state.delayMs);
      } else if (!to.destroyed) to.write(chunk);
    });
  };

  const server: Server = createServer((client) => {
    open.add(client);
    if (state.admit !== null) {
      if (state.admit === 0) {
        client.on("error", () => client.destroy());
        client.on("close", () => open.delete(client));
        return;
      }
      state.admit--;
    }
    const upstream = connect(target.port, target.host);
    open.add(upstream);
    const kill = () => {
      client.destroy();
      upstream.destroy();
      open.delete(client);
      open.delete(upstream);
      held.delete(client);
    };
    client.on("error", kill);
    upstream.on("error", kill);
    // A client gone while its bytes are held: they still go to the server once released, then the connection closes.
    client.on("close", () => {
      const stalled = held.get(client);
      if (stalled === undefined) kill();
      else
        stalled.release = () => {
          for (const chunk of stalled.chunks) upstream.write(chunk);
          upstream.end();
          held.delete(client);
          open.delete(client);
        };
    });
    upstream.on("close", kill);
    let dropAfterReply: Trigger | null = null;
    /** Answer bytes passed since the client's last bytes, and what waits past the cap. */
    let replied = 0;
    const overCap: Buffer[] = [];
    pipe(
      client,
      upstream,
      (chunk) => {
        replied = 0;
        for (const c of overCap.splice(0)) client.write(c);
        const i = triggers.findIndex((t) => chunk.includes(t.match));
        if (i < 0) return true;
        const trigger = triggers.splice(i, 1)[0]!;
        if (trigger.point === "before-request") {
          kill();
          trigger.done();
          return false;
        }
        dropAfterReply = trigger;
        return true;
      },
      (chunk) => {
        const stalled = held.get(client);
        if (stalled !== undefined) {
          stalled.chunks.push(chunk);
          return true;
        }
        if (!state.hold && (state.stallMatching === null || !chunk.includes(state.stallMatching))) return false;
        const entry = { chunks: [chunk], release: () => {} };
        entry.release = () => {
          held.delete(client);
          for (const c of entry.chunks) if (!upstream.destroyed) upstream.write(c);
        };
        held.set(client, entry);
        return true;
      },
    );
    pipe(upstream, client, (chunk) => {
      if (state.replyCapBytes !== null && (overCap.length > 0 || replied + chunk.length > state.replyCapBytes)) {
        overCap.push(chunk);
        return false;
      }
      replied += chunk.length;
      if (dropAfterReply === null) return true;
      // The server answered the request (so it ran it): the client never sees the answer.
      const trigger = dropAfterReply;
      dropAfterReply = null;
      kill();
      trigger.done();
      return false;
    });
  });
  await new Promise<void>((resolve) => server.listen(0, listenHost, resolve));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    get connections() {
      return [...open].length / 2;
    },
    get delayMs() {
      return state.delayMs;
    },
    set delayMs(ms: number) {
      state.delayMs = ms;
    },
    get replyCapBytes() {
      return state.replyCapBytes;
    },
    set replyCapBytes(bytes: number | null) {
      state.replyCapBytes = bytes;
    },
    get admit() {
      return state.admit;
    },
    set admit(count: number | null) {
      state.admit = count;
    },
    get blackhole() {
      return state.blackhole;
    },
    set blackhole(on: boolean) {
      state.blackhole = on;
    },
    get hold() {
      return state.hold;
    },
    set hold(on: boolean) {
      state.hold = on;
      if (!on && state.stallMatching === null) for (const stalled of [...held.values()]) stalled.release();
    },
    get stallMatching() {
      return state.stallMatching?.toString() ?? null;
    },
    set stallMatching(text: string | null) {
      state.stallMatching = text === null ? null : Buffer.from(text);
      if (text === null && !state.hold) for (const stalled of [...held.values()]) stalled.release();
    },
    dropOnce(match, point) {
      return new Promise((resolve) => triggers.push({ match: Buffer.from(match), point, done: resolve }));
    },
    cutAll() {
      for (const s of open) s.destroy();
      open.clear();
    },
    close() {
      for (const s of open) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
