import type { WebSocket as WsConnection } from "ws";
import type { Clock, TimerHandle } from "../clock.ts";

/** A running ping sweep over a server's connections. */
export interface Heartbeat {
  /** Starts watching a connection (its pongs prove it alive). */
  watch(conn: WsConnection): void;
  stop(): void;
}

/**
 * Dead-peer detection with protocol pings. Every `intervalMs` each open
 * connection that did not answer the previous sweep's ping is dropped
 * (its object then gets `webSocketClose(1006, …, false)`, as for any lost
 * connection), and the others are pinged again. A peer is thus declared dead
 * between one and two intervals after it went silent.
 *
 * Pings and pongs are handled by `ws` below the socket's message path, so
 * they never wake a hibernated object. One timer per server (on the
 * runtime's clock, so tests advance it), not one per connection.
 */
export function startHeartbeat(connections: ReadonlySet<WsConnection>, clock: Clock, intervalMs: number): Heartbeat {
  /** Pinged by the last sweep and not heard from since. */
  let unanswered = new Set<WsConnection>();
  let timer: TimerHandle | null = null;
  // Shared by every connection (`this` is the connection): no closure per socket.
  const onPong = function (this: WsConnection) {
    unanswered.delete(this);
  };
  const sweep = () => {
    for (const conn of unanswered) if (connections.has(conn)) conn.terminate();
    unanswered = new Set();
    for (const conn of connections) {
      if (conn.readyState !== conn.OPEN) continue;
      unanswered.add(conn);
      conn.ping();
    }
    timer = clock.setTimeout(sweep, intervalMs);
  };
  timer = clock.setTimeout(sweep, intervalMs);
  return {
    watch(conn) {
      conn.on("pong", onPong);
    },
    stop() {
      timer?.cancel();
      timer = null;
      unanswered.clear();
    },
  };
}
