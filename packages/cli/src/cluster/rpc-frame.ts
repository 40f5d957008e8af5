/**
 * A message carrying an RPC value (a routed call's arguments, its result),
 * encoded once, when the value would have been copied: the frame is the
 * snapshot a structured clone would have been, so the value is not cloned
 * before it is serialized (frame-codec.ts gives the decoded value what a
 * clone would). A value that cannot be encoded fails as a copy of it would.
 */
import { rpcClone, rpcCloneFailed } from "@torpor/core/cluster";
import { encodeFrame, type Frame } from "./frame-codec.ts";

/** `message`, which carries `value` (`what` names it in errors), as a frame; throws ERR_RPC_CLONE as a copy of `value` would. */
export function encodeRpcFrame(message: unknown, value: unknown, what: string): Frame {
  try {
    return encodeFrame(message);
  } catch (cause) {
    // The error a copy in one process gives (its class, message and cause) …
    rpcClone(value, what);
    // … or, for a value the structured clone takes and Node's serializer does not (a Blob), the serializer's refusal.
    throw rpcCloneFailed(what, cause);
  }
}
