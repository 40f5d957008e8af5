import { randomBytes } from "node:crypto";
import { createServer } from "node:http";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import { Duplex } from "node:stream";
import { expect, it } from "vitest";
import { WebSocketServer, WebSocket as WsConnection } from "ws";
import { missingInternals, unparsedBytes } from "./ws-transport.ts";

const WS_VERSION = (createRequire(import.meta.url)("ws/package.json") as { version: string }).version;

/** A masked client frame, as a browser would send it. */
function frame(fin: boolean, opcode: number, payload: Buffer): Buffer {
  const mask = randomBytes(4);
  const masked = Buffer.from(payload.map((b, i) => b ^ mask[i % 4]!));
  const len = payload.length;
  const head = len < 126 ? Buffer.from([0, 0x80 | len]) : len < 65_536 ? Buffer.alloc(4) : Buffer.alloc(10);
  head[0] = (fin ? 0x80 : 0) | opcode;
  if (len >= 126 && len < 65_536) {
    head[1] = 0x80 | 126;
    head.writeUInt16BE(len, 2);
  } else if (len >= 65_536) {
    head[1] = 0x80 | 127;
    head.writeUInt32BE(0, 2);
    head.writeUInt32BE(len, 6);
  }
  return Buffer.concat([head, mask, masked]);
}

/** A server-side ws connection over a socket that goes nowhere; bytes are fed to its receiver directly. */
function serverConnection(events: string[]): { feed(bytes: Buffer): void; receiver: Parameters<typeof unparsedBytes>[0] } {
  const socket = new Duplex({
    read() {},
    write(_c, _e, cb) {
      cb();
    },
  });
  const conn = new WsConnection(null as unknown as string, undefined, { autoPong: false } as never) as unknown as WsConnection & {
    setSocket(s: Duplex, head: Buffer, o: object): void;
    _receiver: Parameters<typeof unparsedBytes>[0] & { write(b: Buffer): void };
  };
  conn.setSocket(socket, Buffer.alloc(0), { allowSynchronousEvents: true, maxPayload: 0 });
  conn.on("message", (data: Buffer, isBinary: boolean) => events.push(`${isBinary ? "bin" : "text"}:${data.length}:${data.subarray(0, 8).toString("hex")}`));
  conn.on("ping", (data: Buffer) => events.push(`ping:${data.toString()}`));
  // ws unmasks in place: feed a copy so the test stream stays intact.
  return { feed: (bytes) => conn._receiver.write(Buffer.from(bytes)), receiver: conn._receiver };
}

it("the bytes left in a receiver, cut at any point, re-encode to the same messages in order", () => {
  const big = randomBytes(70_000);
  const mid = randomBytes(300);
  const frames = [
    frame(true, 1, Buffer.from("hello")),
    frame(true, 2, mid),
    frame(false, 1, Buffer.from("frag-one/")),
    frame(true, 9, Buffer.from("p1")),
    frame(false, 0, Buffer.alloc(0)),
    frame(false, 0, Buffer.from("frag-two/".repeat(20))),
    frame(true, 0, Buffer.from("frag-end")),
    frame(true, 2, big),
    frame(false, 2, Buffer.alloc(0)),
    frame(true, 0, Buffer.from("after-empty-first")),
    frame(true, 1, Buffer.from("end")),
  ];
  const stream = Buffer.concat(frames);
  // Inside the 70 kB payload every cut is alike: sample it.
  const bigFrom = frames.slice(0, 7).reduce((n, f) => n + f.length, 0) + 20;
  const bigTo = bigFrom + frames[7]!.length - 40;
  const expected: string[] = [];
  serverConnection(expected).feed(stream);
  expect(expected.length).toBe(7);

  let cuts = 0;
  for (let cut = 0; cut <= stream.length; cut += cut > bigFrom && cut < bigTo ? 997 : 1) {
    const events: string[] = [];
    const before = serverConnection(events);
    before.feed(stream.subarray(0, cut));
    const left = unparsedBytes(before.receiver);
    expect(left).not.toBeNull();
    const after = serverConnection(events);
    after.feed(Buffer.concat([...left!, stream.subarray(cut)]));
    expect(events, `cut at byte ${cut}`).toEqual(expected);
    cuts++;
  }
  expect(cuts).toBeGreaterThan(600);
});

it("every private member of ws that ws-transport.ts uses is still there (a failure names the one that disappeared)", async () => {
  const http = createServer();
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  const accepted = new Promise<WsConnection>((resolve) => {
    http.on("upgrade", (req, socket, head) => wss.handleUpgrade(req, socket, head, resolve));
  });
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
  const client = new WsConnection(`ws://127.0.0.1:${(http.address() as AddressInfo).port}`);
  // The server accepts before the client has read the 101: terminating a client still connecting
  // emits an error with no listener, so the client is open before it is terminated.
  const opened = new Promise<void>((resolve, reject) => {
    client.once("open", resolve);
    client.once("error", reject);
  });
  const closed = new Promise((resolve) => client.once("close", resolve));
  try {
    const [conn] = await Promise.all([accepted, opened]);
    const missing = missingInternals(conn, wss);
    expect(missing, `ws ${WS_VERSION} lacks private members that packages/core/src/websocket/ws-transport.ts relies on: ${missing.join(", ")}`).toEqual([]);
  } finally {
    client.terminate();
    await closed;
    await new Promise((resolve) => http.close(resolve));
  }
});

it("the internals check names each missing member by owner", () => {
  const receiver = { _state: 0, _buffers: [], _fin: false, _opcode: 0, _fragmented: 0, _payloadLength: 0, _mask: undefined, _compressed: false };
  // A Sender whose class lost its static frame().
  class Sender {
    enqueue() {}
  }
  const conn = { _receiver: receiver, _sender: new Sender(), _socket: null, _closeFrameReceived: false, _closeCode: 1006, setSocket() {}, emitClose() {} };
  expect(missingInternals(conn as never)).toEqual(["WebSocket#_closeMessage", "Receiver#_fragments", "Sender.constructor#frame"]);
});
