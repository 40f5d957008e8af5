/**
 * One HTTP request on a fresh connection (so a cluster's supervisor spreads
 * requests over its workers), bounded by a deadline. Lines of the body are
 * timestamped as they arrive, so a client can tell a streamed body from a
 * buffered one.
 */
import { request } from "node:http";

/** What came back. */
export interface HttpReply {
  status: number;
  text: string;
  /** Each body line and when it arrived (Date.now()). */
  lines: Array<{ at: number; text: string }>;
}

/** Thrown when the deadline passed before the reply ended. */
export class DeadlineExceeded extends Error {
  constructor(ms: number) {
    super(`no complete reply within ${ms} ms`);
  }
}

/** Sends one request; rejects on a connection error or with `DeadlineExceeded`. */
export function httpCall(url: string, init: { method?: string; body?: string; deadlineMs: number }): Promise<HttpReply> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: init.method ?? "GET", agent: false, headers: init.body === undefined ? {} : { "content-type": "text/plain" } });
    const timer = setTimeout(() => {
      req.destroy();
      reject(new DeadlineExceeded(init.deadlineMs));
    }, init.deadlineMs);
    const fail = (error: Error) => {
      clearTimeout(timer);
      reject(error);
    };
    req.on("error", fail);
    req.on("response", (res) => {
      let text = "";
      let partial = "";
      const lines: HttpReply["lines"] = [];
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        text += chunk;
        partial += chunk;
        let at: number;
        while ((at = partial.indexOf("\n")) !== -1) {
          lines.push({ at: Date.now(), text: partial.slice(0, at) });
          partial = partial.slice(at + 1);
        }
      });
      res.on("error", fail);
      res.on("aborted", () => fail(new Error("response aborted")));
      res.on("end", () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, text, lines });
      });
    });
    req.end(init.body);
  });
}
