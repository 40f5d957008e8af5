// One Worker, run unchanged on workerd (through miniflare) and on Torpor, so
// the two runtimes' observable behaviour can be compared (test/differential.test.ts).
//
// Plain JavaScript importing only its sibling modules: it uses only the
// Workers globals (WebSocketPair, WebSocketRequestResponsePair, a Response
// that takes status 101) and a Durable Object class that does not extend
// DurableObject, so the same module loads in both runtimes.
//
// Routes (all under /room/<name>, one Probe object per name):
//   GET  /room/<name>/connect?tags=a,b   WebSocket upgrade; hibernatable accept with those tags
//   GET  /room/<name>/connect?mode=standard[&reply=1]  WebSocket upgrade; ws.accept() and listeners
//   GET  /room/<name>/log                the object's event log (JSON)
//   GET  /room/<name>/tags               acceptWebSocket/getTags on in-process pairs
//   GET  /room/<name>/attachments        serializeAttachment/deserializeAttachment
//   GET  /room/<name>/closecodes         close() argument validation and misuse errors
//   GET  /room/<name>/hibernation        the rest of the hibernation API (hibernation-cases.js)
//   GET  /room/<name>/kv                 the key-value storage API (kv-cases.js)
//   GET  /room/<name>/sql                the SQL API (sql-cases.js)
//   GET  /room/<name>/alarm              schedules an alarm; alarm() logs what it sees
//   GET  /room/<name>/connect?force=1    answers 101 even without an Upgrade header
//   ANY  /headers                        the Worker's view of the request's headers
//   ANY  /proxy?to=<url>                 fetch(url, request): a proxying Worker
//   GET  /ids                            idFromString/idFromName/get argument handling (id-cases.js)
//
// Every observation is plain JSON: errors become { ok: false, ctor, name, message[, code] }.
import { attempt, attemptAsync, errorOf, show } from "./capture.js";
import { hibernationCases } from "./hibernation-cases.js";
import { idCases } from "./id-cases.js";
import { kvCases } from "./kv-cases.js";
import { sqlCases } from "./sql-cases.js";

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    // The headers the Worker's Request carries (hop-by-hop ones included or not).
    if (url.pathname === "/headers") {
      const body = request.body === null ? null : (await request.text()).length;
      return json({ method: request.method, headers: [...request.headers], bodyLength: body });
    }
    // A proxying Worker: the request forwarded as is to the origin named by ?to=.
    if (url.pathname === "/proxy") {
      try {
        const response = await fetch(url.searchParams.get("to"), request);
        return new Response(response.body, { status: response.status, headers: { "content-type": "application/json" } });
      } catch (error) {
        return json({ proxyError: errorOf(error) }, 500);
      }
    }
    if (url.pathname === "/ids") return json(idCases(env.PROBE));
    const match = /^\/room\/([^/]+)(\/.*)?$/.exec(url.pathname);
    if (match === null) return new Response("not found", { status: 404 });
    const stub = env.PROBE.get(env.PROBE.idFromName(decodeURIComponent(match[1])));
    return stub.fetch(request);
  },
};

function json(value, status = 200) {
  return new Response(JSON.stringify(value), { status, headers: { "content-type": "application/json" } });
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function describe(value) {
  if (value === null) return "null";
  if (value === undefined) return "undefined";
  if (value instanceof Date) return `Date(${value.getTime()})`;
  if (value instanceof Map) return `Map(${JSON.stringify([...value])})`;
  if (typeof value === "object") return `object ${JSON.stringify(value)}`;
  return `${typeof value} ${JSON.stringify(value)}`;
}

export class Probe {
  constructor(ctx, env) {
    this.ctx = ctx;
    this.env = env;
    this.inflight = 0;
    this.maxInflight = 0;
    this.nextSocket = 0;
    ctx.blockConcurrencyWhile(async () => {
      // The log lives in storage so a reset object (a new instance) keeps it;
      // `gen` counts constructions, so a reset shows up in the log.
      this.events = (await ctx.storage.get("log")) ?? [];
      this.gen = ((await ctx.storage.get("gen")) ?? 0) + 1;
      await ctx.storage.put("gen", this.gen);
    });
  }

  record(entry) {
    this.events.push({ gen: this.gen, ...entry });
    void this.ctx.storage.put("log", this.events);
  }

  /** What the object sees of one socket, by its unique `id:` tag and by identity. */
  view(ws) {
    const tags = attempt(() => this.ctx.getTags(ws));
    const idTag = tags.ok ? tags.value.find((t) => t.startsWith("id:")) : undefined;
    const all = this.ctx.getWebSockets();
    return {
      readyState: ws.readyState,
      tags,
      inGetWebSockets: all.includes(ws),
      inGetWebSocketsByTag: idTag === undefined ? null : this.ctx.getWebSockets(idTag).length,
      openSockets: all.length,
    };
  }

  async fetch(request) {
    const url = new URL(request.url);
    const action = url.pathname.split("/")[3] ?? "";
    switch (action) {
      case "connect":
        return this.connect(request, url);
      case "sockets":
        return json({ open: this.ctx.getWebSockets().length });
      case "log":
        return json({ gen: this.gen, maxInflight: this.maxInflight, events: this.events });
      case "tags":
        return json(this.tagCases());
      case "attachments":
        return json(this.attachmentCases());
      case "closecodes":
        return json(this.closeCases());
      case "hibernation":
        return json(hibernationCases(this.ctx));
      case "kv":
        return json(await kvCases(this.ctx.storage));
      case "sql":
        return json(await sqlCases(this.ctx.storage));
      case "alarm":
        return json(await this.scheduleAlarm());
      default:
        return json({ error: `unknown action ${action}` }, 404);
    }
  }

  connect(request, url) {
    if (request.headers.get("Upgrade") !== "websocket" && url.searchParams.get("force") !== "1") return json({ error: "expected a WebSocket upgrade" }, 426);
    const [client, server] = Object.values(new WebSocketPair());
    if (url.searchParams.get("mode") === "standard") {
      // A standard (non-hibernatable) accept, for comparison with the hibernatable path.
      const reply = url.searchParams.get("reply") === "1";
      server.accept();
      server.addEventListener("message", (event) => server.send(JSON.stringify({ echo: event.data, readyState: server.readyState })));
      server.addEventListener("close", (event) => {
        const entry = {
          ev: "standard-close",
          code: event.code,
          reason: event.reason,
          wasClean: event.wasClean,
          readyState: server.readyState,
          sendInClose: attempt(() => server.send("in-close")),
        };
        if (reply) {
          entry.closeInClose = attempt(() => server.close(1000, "closed-in-handler"));
          entry.readyStateAfterClose = server.readyState;
        }
        this.record(entry);
      });
      server.addEventListener("error", (event) => this.record({ ev: "standard-error", message: event.message }));
      return new Response(null, { status: 101, webSocket: client });
    }
    const given = url.searchParams.get("tags");
    const tags = [`id:${this.nextSocket++}`, ...(given ? given.split(",") : [])];
    this.ctx.acceptWebSocket(server, tags);
    return new Response(null, { status: 101, webSocket: client });
  }

  // ---- hibernatable handlers ----------------------------------------------

  webSocketMessage(ws, message) {
    if (typeof message !== "string") {
      const info = { type: Object.prototype.toString.call(message), byteLength: message.byteLength };
      this.record({ ev: "message", binary: info });
      ws.send(JSON.stringify({ binary: info }));
      return;
    }
    if (message.length > 10_000) {
      this.record({ ev: "message", bigLength: message.length });
      ws.send(JSON.stringify({ bigLength: message.length }));
      return;
    }
    const [cmd, arg] = message.split(":");
    switch (cmd) {
      case "echo":
        ws.send(JSON.stringify({ echo: arg ?? null, view: this.view(ws) }));
        return;
      case "view":
        ws.send(JSON.stringify(this.view(ws)));
        return;
      case "throw":
        this.record({ ev: "throwing" });
        throw new Error("boom from webSocketMessage");
      case "throw-async":
        return (async () => {
          await sleep(10);
          this.record({ ev: "throwing-async" });
          throw new Error("async boom from webSocketMessage");
        })();
      case "slow":
      case "fast":
        return this.timed(ws, cmd, arg);
      case "server-close": {
        // The object closes first (code 4001); what does it see afterwards?
        ws.close(4001, "server-bye");
        this.record({
          ev: "after-server-close",
          view: this.view(ws),
          sendAfterClose: attempt(() => ws.send("after-close")),
          closeAgain: attempt(() => ws.close(4002, "again")),
        });
        return;
      }
      case "server-close-code": {
        ws.close(Number(arg), "unlisted");
        return;
      }
      case "set-auto": {
        this.ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair("ping", "pong"));
        const pair = this.ctx.getWebSocketAutoResponse();
        ws.send(JSON.stringify({ auto: pair === null ? null : { request: pair.request, response: pair.response } }));
        return;
      }
      case "auto-ts": {
        const ts = this.ctx.getWebSocketAutoResponseTimestamp(ws);
        ws.send(JSON.stringify({ isDate: ts instanceof Date, isNull: ts === null, ms: ts instanceof Date ? ts.getTime() : null }));
        return;
      }
      case "clear-auto": {
        this.ctx.setWebSocketAutoResponse();
        ws.send(JSON.stringify({ auto: this.ctx.getWebSocketAutoResponse() }));
        return;
      }
      default:
        this.record({ ev: "message", text: message });
        ws.send(JSON.stringify({ unknown: message }));
    }
  }

  async timed(ws, cmd, id) {
    this.inflight++;
    this.maxInflight = Math.max(this.maxInflight, this.inflight);
    this.record({ ev: `${cmd}-start`, id, inflight: this.inflight });
    if (cmd === "slow") await sleep(300);
    this.inflight--;
    this.record({ ev: `${cmd}-end`, id, readyState: ws.readyState });
    if (ws.readyState === 1) ws.send(JSON.stringify({ done: `${cmd}:${id}` }));
  }

  webSocketClose(ws, code, reason, wasClean) {
    const entry = { ev: "close", code, reason, wasClean, view: this.view(ws), sendInClose: attempt(() => ws.send("in-close")) };
    // Sockets tagged "reply-in-close" use the pre-auto-reply pattern of
    // answering the Close frame by hand; the others leave it to the runtime.
    const tags = attempt(() => this.ctx.getTags(ws));
    if (tags.ok && tags.value.includes("reply-in-close")) {
      entry.closeInClose = attempt(() => ws.close(1000, "closed-in-handler"));
      entry.readyStateAfterClose = ws.readyState;
    }
    this.record(entry);
  }

  webSocketError(ws, error) {
    this.record({ ev: "error", error: errorOf(error), readyState: ws.readyState, inGetWebSockets: this.ctx.getWebSockets().includes(ws) });
  }

  // ---- alarms ---------------------------------------------------------------

  async scheduleAlarm() {
    const before = await this.ctx.storage.getAlarm();
    const at = Date.now() + 100;
    await this.ctx.storage.setAlarm(at);
    const after = await this.ctx.storage.getAlarm();
    return { before, afterIsScheduled: after === at };
  }

  /** The first run reschedules itself (when getAlarm() is null, the common guard); the second stops. */
  async alarm(info) {
    const seen = {
      ev: "alarm",
      info: {
        ctor: info?.constructor?.name,
        keys: Object.keys(info),
        retryCount: info.retryCount,
        isRetry: info.isRetry,
        scheduledTime: typeof info.scheduledTime,
      },
      getAlarm: show(await this.ctx.storage.getAlarm()),
    };
    if (this.events.filter((e) => e.ev === "alarm").length === 0) {
      if (seen.getAlarm === null) seen.rescheduled = await attemptAsync(() => this.ctx.storage.setAlarm(Date.now() + 50));
      const next = await this.ctx.storage.getAlarm();
      seen.getAlarmAfterReschedule = typeof next === "number" ? "number" : show(next);
    }
    this.record(seen);
  }

  // ---- in-process checks (pairs whose client end is never connected) -----

  tagCases() {
    const cases = {
      order: ["b", "a", "c"],
      duplicate: ["dup", "dup"],
      none: undefined,
      emptyArray: [],
      ten: Array.from({ length: 10 }, (_, i) => `ten${i}`),
      eleven: Array.from({ length: 11 }, (_, i) => `eleven${i}`),
      len256: ["x".repeat(256)],
      len257: ["y".repeat(257)],
      // 129 characters but 258 UTF-8 bytes: is the limit characters or bytes?
      utf8Len129: ["é".repeat(129)],
      emptyString: [""],
      nonString: [1],
      notArray: "solo",
    };
    const out = {};
    for (const [label, tags] of Object.entries(cases)) {
      const [, server] = Object.values(new WebSocketPair());
      const accepted = attempt(() => (tags === undefined ? this.ctx.acceptWebSocket(server) : this.ctx.acceptWebSocket(server, tags)));
      const result = { accepted: { ok: accepted.ok, name: accepted.name, message: accepted.message } };
      if (accepted.ok) result.getTags = attempt(() => this.ctx.getTags(server));
      out[label] = result;
    }
    out.duplicateCount = this.ctx.getWebSockets("dup").length;
    out.emptyStringCount = this.ctx.getWebSockets("").length;
    out.unknownTagCount = this.ctx.getWebSockets("no-such-tag").length;
    // getTags on a socket accepted the standard way, and on one never accepted.
    const [, standard] = Object.values(new WebSocketPair());
    standard.accept();
    out.getTagsOfStandard = attempt(() => this.ctx.getTags(standard));
    const [, loose] = Object.values(new WebSocketPair());
    out.getTagsOfUnaccepted = attempt(() => this.ctx.getTags(loose));
    // Accepting twice, and hibernatable after standard.
    const [, twice] = Object.values(new WebSocketPair());
    this.ctx.acceptWebSocket(twice);
    out.acceptWebSocketTwice = attempt(() => this.ctx.acceptWebSocket(twice));
    out.hibernatableAfterStandard = attempt(() => this.ctx.acceptWebSocket(standard));
    const [, hib] = Object.values(new WebSocketPair());
    this.ctx.acceptWebSocket(hib);
    out.standardAfterHibernatable = attempt(() => hib.accept());
    return out;
  }

  attachmentCases() {
    const fresh = () => {
      const [, server] = Object.values(new WebSocketPair());
      this.ctx.acceptWebSocket(server);
      return server;
    };
    const roundTrip = (value) => {
      const ws = fresh();
      const set = attempt(() => ws.serializeAttachment(value));
      if (!set.ok) return { set };
      const got = attempt(() => describe(ws.deserializeAttachment()));
      return { set: { ok: true }, got };
    };
    const out = {};
    out.noneSet = attempt(() => describe(fresh().deserializeAttachment()));
    out.undefined = roundTrip(undefined);
    out.null = roundTrip(null);
    out.object = roundTrip({ a: 1, b: [1, "two"] });
    out.date = roundTrip(new Date(0));
    out.map = roundTrip(new Map([["k", 1]]));
    out.function = roundTrip(() => 1);
    out.symbol = roundTrip(Symbol("s"));
    {
      const ws = fresh();
      ws.serializeAttachment({ n: 1 });
      const a = ws.deserializeAttachment();
      a.n = 2;
      const b = ws.deserializeAttachment();
      out.freshCopy = { distinct: a !== b, unaffected: b.n === 1 };
    }
    // The largest one-byte string accepted, and the errors just past it.
    const ws = fresh();
    const fits = (n) => attempt(() => ws.serializeAttachment("x".repeat(n))).ok;
    let lo = 0;
    let hi = 20_000;
    while (lo < hi) {
      const mid = Math.ceil((lo + hi) / 2);
      if (fits(mid)) lo = mid;
      else hi = mid - 1;
    }
    out.maxStringLength = lo;
    out.errorJustOver = attempt(() => ws.serializeAttachment("x".repeat(lo + 1)));
    out.error2049Bytes = attempt(() => ws.serializeAttachment(new Uint8Array(2049)));
    out.error4096Chars = attempt(() => ws.serializeAttachment("x".repeat(4096)));
    out.keptAfterFailure = attempt(() => describe(ws.deserializeAttachment()).slice(0, 20));
    // On a socket that is not accepted at all, and one accepted the standard way.
    const [, loose] = Object.values(new WebSocketPair());
    out.unaccepted = attempt(() => {
      loose.serializeAttachment({ u: 1 });
      return describe(loose.deserializeAttachment());
    });
    return out;
  }

  closeCases() {
    const accepted = () => {
      const [, server] = Object.values(new WebSocketPair());
      server.accept();
      return server;
    };
    const out = {};
    for (const code of [
      999,
      1000,
      1001,
      1002,
      1003,
      1004,
      1005,
      1006,
      1007,
      1008,
      1009,
      1010,
      1011,
      1012,
      1013,
      1014,
      1015,
      1016,
      2999,
      3000,
      4999,
      5000,
      1000.5,
      "1000",
    ]) {
      out[`code ${typeof code === "string" ? JSON.stringify(code) : code}`] = attempt(() => accepted().close(code, "r"));
    }
    out.noArgs = attempt(() => accepted().close());
    out.reasonWithoutCode = attempt(() => accepted().close(undefined, "why"));
    out.reason123Bytes = attempt(() => accepted().close(1000, "r".repeat(123)));
    out.reason124Bytes = attempt(() => accepted().close(1000, "r".repeat(124)));
    out.reason62TwoByteChars = attempt(() => accepted().close(1000, "é".repeat(62)));
    {
      const ws = accepted();
      ws.close(1000);
      out.sendAfterOwnClose = attempt(() => ws.send("x"));
      out.closeAfterOwnClose = attempt(() => ws.close(1000));
      out.readyStateAfterOwnClose = ws.readyState;
    }
    {
      const [, server] = Object.values(new WebSocketPair());
      out.sendBeforeAccept = attempt(() => server.send("x"));
      out.closeBeforeAccept = attempt(() => server.close(1000));
      out.readyStateBeforeAccept = server.readyState;
    }
    {
      const [, server] = Object.values(new WebSocketPair());
      this.ctx.acceptWebSocket(server);
      server.close(4000, "x");
      out.hibernatableClosedStillListed = this.ctx.getWebSockets().includes(server);
      out.hibernatableReadyStateAfterClose = server.readyState;
    }
    return out;
  }
}
