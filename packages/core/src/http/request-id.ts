/**
 * Request ids for log lines. A request that came with an `X-Request-Id`
 * (a load balancer or proxy set it) keeps that id, so its lines can be
 * matched with the proxy's; others get one made here, unique in this
 * process (a random per-process prefix and a counter: cheaper than random
 * bytes per request). Ids are made only when a line is written, and kept
 * with the request so all its lines share one.
 */
import { randomBytes } from "node:crypto";
import type { IncomingMessage } from "node:http";

const PREFIX = randomBytes(4).toString("hex");
let counter = 0;
/** Visible ASCII, bounded: an id is copied into every line of its request. */
const ACCEPTED = /^[\x21-\x7e]{1,128}$/;

const made = new WeakMap<IncomingMessage, string>();

/** The id of a request: its `X-Request-Id` if that is a short visible-ASCII token, else one made on first use. */
export function requestIdOf(req: IncomingMessage): string {
  const given = req.headers["x-request-id"];
  if (typeof given === "string" && ACCEPTED.test(given)) return given;
  let id = made.get(req);
  if (id === undefined) {
    id = `${PREFIX}-${(++counter).toString(36)}`;
    made.set(req, id);
  }
  return id;
}
