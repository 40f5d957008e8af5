/**
 * The checks a worker applies to what arrives on a direct channel and the
 * supervisor to what a worker sends: one set of schemas for the messages both
 * carry, each as strict as the stricter of the two hand-kept copies were.
 */
import { describe, expect, it } from "vitest";
import { parseChannelMessage, parseFromWorker } from "../src/cluster/ipc-validation.ts";

const key = { namespace: "ROOMS", id: "a".repeat(64), name: "lobby" };
const request = { method: "POST", url: "http://x/", headers: [["content-type", "text/plain"]], body: { stream: 3 } };
const error = { name: "TypeError", message: "no", code: "ERR_X", stack: "TypeError: no" };

const channelValid = [
  { t: "call", rid: 1, key, op: "fetch", request },
  { t: "call", rid: 2, key, op: "fetch", request: { ...request, body: null } },
  { t: "call", rid: 3, key, op: "call", method: "echo", args: [1, { a: 2 }], refs: [] },
  { t: "call", rid: 4, key: { namespace: "ROOMS", id: "0".repeat(64) }, op: "read", property: "size" },
  { t: "reply", rid: 1, ok: true, value: new Map([[1, 2]]) },
  { t: "reply", rid: 1, ok: false, error },
  { t: "not-here", rid: 9 },
  { t: "body-chunk", stream: 3, seq: 0, data: new Uint8Array([1, 2]) },
  { t: "body-end", stream: 3, seq: 1 },
  { t: "body-end", stream: 3, seq: 1, error },
  { t: "body-credit", stream: 3, bytes: 65_536 },
  { t: "body-cancel", stream: 3 },
  { t: "bye" },
  { t: "bye-ack" },
];

const channelInvalid: Array<[string, unknown]> = [
  ["not an object", "call"],
  ["null", null],
  ["an unknown type", { t: "exit" }],
  ["a call without its rid", { t: "call", key, op: "read", property: "x" }],
  ["a call whose rid is not a safe integer", { t: "call", rid: 2 ** 53, key, op: "read", property: "x" }],
  ["a call whose id is not 64 hex", { t: "call", rid: 1, key: { ...key, id: "A".repeat(64) }, op: "read", property: "x" }],
  ["a call with an empty namespace", { t: "call", rid: 1, key: { ...key, namespace: "" }, op: "read", property: "x" }],
  ["a call with a key name that is not a string", { t: "call", rid: 1, key: { ...key, name: 5 }, op: "read", property: "x" }],
  ["a call with an unknown op", { t: "call", rid: 1, key, op: "delete" }],
  ["a routed call without its args", { t: "call", rid: 1, key, op: "call", method: "m" }],
  ["a routed read without its property", { t: "call", rid: 1, key, op: "read" }],
  ["a routed fetch without its request", { t: "call", rid: 1, key, op: "fetch" }],
  ["a routed fetch with a header that is not a pair", { t: "call", rid: 1, key, op: "fetch", request: { ...request, headers: [["a", "b", "c"]] } }],
  // Bodies stream beside the call (wire.ts); the supervisor's copy let an inline one through.
  ["a routed fetch with an inline body", { t: "call", rid: 1, key, op: "fetch", request: { ...request, body: new Uint8Array(1) } }],
  ["a call with invalid references", { t: "call", rid: 1, key, op: "call", method: "m", args: [], refs: "x" }],
  ["a failed reply without its error", { t: "reply", rid: 1, ok: false }],
  // The channel's copy checked only an error's name and message.
  ["a failed reply whose error code is not a string", { t: "reply", rid: 1, ok: false, error: { ...error, code: 7 } }],
  ["a reply without ok", { t: "reply", rid: 1, value: 1 }],
  ["a refusal without its rid", { t: "not-here" }],
  ["a body chunk with a negative seq", { t: "body-chunk", stream: 3, seq: -1, data: new Uint8Array(1) }],
  ["a body chunk whose data are not bytes", { t: "body-chunk", stream: 3, seq: 0, data: [1] }],
  ["a body end with an invalid error", { t: "body-end", stream: 3, seq: 0, error: "no" }],
  ["a body credit of 0 bytes", { t: "body-credit", stream: 3, bytes: 0 }],
  ["a body cancel without its stream", { t: "body-cancel" }],
];

describe("a message on a direct channel", () => {
  it.each(channelValid.map((m) => [`${m.t} ${"op" in m ? m.op : ""}`, m] as const))("accepts %s", (_, message) => {
    const parsed = parseChannelMessage(message);
    expect(parsed).toEqual({ ok: true, message });
    // Handed on as it came (values the receiver reads, such as RPC arguments, are not copied).
    expect(parsed.ok && parsed.message).toBe(message);
  });

  it.each(channelInvalid)("rejects %s with a reason", (_, message) => {
    const parsed = parseChannelMessage(message);
    expect(parsed.ok).toBe(false);
    expect(!parsed.ok && parsed.reason).toMatch(/\S/);
  });

  it("names what a routed call lacks", () => {
    expect(parseChannelMessage({ t: "call", rid: 1, key, op: "call", method: "m" })).toEqual({
      ok: false,
      reason: "a routed call without its method and args",
    });
    expect(parseChannelMessage({ t: "reply", rid: 1, ok: false })).toEqual({ ok: false, reason: "a failed reply without its error" });
  });
});

describe("the same messages from a worker to its supervisor", () => {
  const withTo = (m: Record<string, unknown>) => (m.t === "call" ? m : { ...m, to: 2 });
  const shared = (m: { t: string }) => m.t !== "not-here" && m.t !== "bye" && m.t !== "bye-ack";

  it.each(channelValid.filter(shared).map((m) => [m.t, withTo(m)] as const))(
    "accepts %s (replies and body messages name the process they go to)",
    (_, message) => {
      expect(parseFromWorker(message)).toEqual({ ok: true, message });
    },
  );

  it.each(
    channelInvalid
      .filter(([, m]) => typeof m === "object" && m !== null && shared(m as { t: string }))
      .map(([why, m]) => [why, withTo(m as Record<string, unknown>)] as const),
  )("rejects %s", (_, message) => {
    expect(parseFromWorker(message).ok).toBe(false);
  });

  it("rejects a reply or a body message that names no process", () => {
    expect(parseFromWorker({ t: "reply", rid: 1, ok: true, value: 1 }).ok).toBe(false);
    expect(parseFromWorker({ t: "body-cancel", stream: 3 }).ok).toBe(false);
  });

  it("does not take a channel's own messages", () => {
    for (const t of ["not-here", "bye", "bye-ack"]) expect(parseFromWorker({ t, rid: 1 }).ok).toBe(false);
  });
});

describe("the other messages a worker sends its supervisor", () => {
  const refs = [
    [{}, { id: 3 }],
    [{ a: 1 }, { disposed: true }],
    [{}, { durable: { namespace: "N", id: "b".repeat(64) } }],
  ];
  const control: Array<Record<string, unknown>> = [
    { t: "ready" },
    { t: "failed", error },
    { t: "ref-call", to: 2, rid: 1, ref: 4, path: ["a"], op: "call", args: [1], refs },
    { t: "ref-reply", to: 2, rid: 1, ok: false, error },
    { t: "ref-release", to: 2, ids: [1, 2] },
    { t: "upgrade", to: 1, token: 3, req: { method: "GET", url: "/", headers: { a: "b", c: ["d"] } }, head: new Uint8Array(2) },
    { t: "abandon", to: 1, token: 3 },
    { t: "socket", moved: { key, tags: null, autoResponseAt: 0, protocol: "", unparsed: new Uint8Array(0) } },
    { t: "auto-response", key, request: "ping", response: "pong" },
    { t: "released", slots: [0, 255], sockets: 0, closed: 3 },
    { t: "stats-reply", rid: 1, objects: [] },
    { t: "hibernate-reply", rid: 1, status: 200 },
    { t: "drained", rid: 1, objects: 0 },
    { t: "health-reply", rid: 1, checks: [{ name: "lock", ok: true, detail: "" }] },
    { t: "imports", urls: ["file:///x"] },
    { t: "backup-reply", rid: 1, ok: true, objects: 1, bytes: 2 },
  ];

  it.each(control.map((m) => [m.t, m] as const))("accepts %s", (_, message) => {
    expect(parseFromWorker(message)).toEqual({ ok: true, message });
  });

  // Checked by hand since the supervisor loads no schema library (issue 23 item 4): every field still counts.
  it.each(control.map((m) => [m.t, m] as const))("rejects %s with any of its fields missing or of another type", (_, message) => {
    for (const field of Object.keys(message).filter((f) => f !== "t")) {
      const { [field]: _dropped, ...without } = message;
      // `refs` is the one optional field here: only calls that pass stubs or functions carry it.
      if (field !== "refs") expect([field, parseFromWorker(without).ok]).toEqual([field, false]);
      expect([field, parseFromWorker({ ...message, [field]: Number.NaN }).ok]).toEqual([field, false]);
    }
  });

  it("rejects a reference list whose entries are not placeholder and reference", () => {
    const call = control[2]!;
    for (const bad of ["x", [[{}, { id: 0 }]], [[[], { id: 1 }]], [[{}, { durable: { namespace: "", id: "b".repeat(64) } }]]])
      expect(parseFromWorker({ ...call, refs: bad }).ok).toBe(false);
  });
});
