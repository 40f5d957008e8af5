/**
 * A routed fetch's response rebuilt in the calling worker (wire.ts encodes it). Apart from wire.ts because it
 * needs core's Response, which only a worker loads: the supervisor relays responses without building them.
 */
import { Response, type WebSocket } from "@torpor/core";
import type { WireResponse } from "./wire.ts";

/** The response of a routed fetch, with its body (opened when the reply arrived: BodyStreams.incoming). */
export function decodeResponse(wire: WireResponse, body: ReadableStream<Uint8Array> | null, webSocket?: WebSocket): Response {
  const init = { status: wire.status, statusText: wire.statusText, headers: wire.headers };
  if (webSocket !== undefined) {
    void body?.cancel();
    return new Response(null, { ...init, webSocket });
  }
  // 204/304 and friends must not carry a body, even an empty one.
  if (body !== null && (wire.status === 204 || wire.status === 205 || wire.status === 304)) {
    void body.cancel();
    return new Response(null, init);
  }
  return new Response(body, init);
}
