import type { DurableObjectStub, WebSocket as TorporWebSocket } from "@torpor/core";
import { WebSocket as WsClient } from "ws";
import { TestingError } from "./errors.ts";
import { Inbox, type TestWebSocket, type Transport } from "./test-socket.ts";

/** Options of `connect()`. */
export interface ConnectOptions {
  /** `"memory"` (in-process pair, no network) or `"tcp"` (a real socket on the runtime's port). Default: the test runtime's `transport`. */
  transport?: Transport;
  /** Subprotocols to offer (`Sec-WebSocket-Protocol`). */
  protocols?: string[];
  /** Extra request headers. */
  headers?: Record<string, string>;
}

/** What to connect to: a stub (straight to that object), a URL, or a path on the runtime (through the Worker's fetch). */
export type ConnectTarget = Pick<DurableObjectStub, "id" | "fetch"> | string;

/** @internal what `connect` needs from a test runtime. */
export interface Connector {
  readonly transport: Transport;
  /** Dispatches through the Worker entry, in process. */
  fetch(request: Request): Promise<globalThis.Response>;
  /** The runtime's http:// base URL, listening on port 0 first if needed. */
  listen(): Promise<string>;
  /** Headers that route a TCP upgrade straight to the object behind `stub`. */
  routeHeaders(stub: Pick<DurableObjectStub, "id">): Record<string, string>;
  /** Runs `fn` when the test runtime is cleaned up. */
  onCleanup(fn: () => void): void;
}

/** Placeholder origin of in-process requests made for a stub. */
const MEMORY_ORIGIN = "http://torpor.test";

/** @internal `connect()` against one test runtime. */
export async function connectWith(
  connector: Connector,
  target: ConnectTarget,
  pathOrOptions?: string | ConnectOptions,
  maybeOptions?: ConnectOptions,
): Promise<TestWebSocket> {
  const path = typeof pathOrOptions === "string" ? pathOrOptions : undefined;
  const options = (typeof pathOrOptions === "object" ? pathOrOptions : maybeOptions) ?? {};
  const transport = options.transport ?? connector.transport;
  const headers: Record<string, string> = { ...options.headers };
  if (options.protocols !== undefined && options.protocols.length > 0) headers["sec-websocket-protocol"] = options.protocols.join(", ");

  if (transport === "memory") {
    const init = { headers: { ...headers, upgrade: "websocket" } };
    if (typeof target === "string") {
      const url = isAbsolute(target) ? new URL(path ?? "", target.replace(/^ws/, "http")) : new URL(joinPath(target, path), MEMORY_ORIGIN);
      return memoryClient(await connector.fetch(new Request(url, init)), url);
    }
    const url = new URL(path ?? "/", MEMORY_ORIGIN);
    return memoryClient(await target.fetch(url, init), url);
  }
  if (transport !== "tcp")
    throw new TestingError("ERR_TEST_CONNECT_FAILED", `connect() option transport must be "tcp" or "memory"; got ${JSON.stringify(transport)}.`);
  let url: URL;
  if (typeof target === "string") {
    url = isAbsolute(target) ? new URL(path ?? "", target) : new URL(joinPath(target, path), await connector.listen());
  } else {
    url = new URL(path ?? "/", await connector.listen());
    Object.assign(headers, connector.routeHeaders(target));
  }
  url.protocol = url.protocol.replace(/^http/, "ws");
  const client = await tcpClient(url, headers);
  connector.onCleanup(() => client.terminate());
  return client.socket;
}

function isAbsolute(target: string): boolean {
  return /^(ws|http)s?:\/\//.test(target);
}

function joinPath(base: string, path: string | undefined): string {
  return path === undefined ? base : `${base.replace(/\/$/, "")}/${path.replace(/^\//, "")}`;
}

async function memoryClient(response: globalThis.Response, url: URL): Promise<TestWebSocket> {
  const ws = (response as { webSocket?: TorporWebSocket | null }).webSocket ?? null;
  if (response.status !== 101 || ws === null) {
    throw new TestingError(
      "ERR_TEST_CONNECT_FAILED",
      `WebSocket upgrade to ${url.pathname} was answered ${response.status}${response.status === 101 ? " without a webSocket" : ""}: ${await bodyText(response)}`,
    );
  }
  const inbox = new Inbox();
  ws.accept();
  // binaryType stays "arraybuffer" here, so data is never a Blob.
  ws.addEventListener("message", (event) => inbox.push(event.data as string | ArrayBuffer));
  ws.addEventListener("close", (event) => inbox.end({ code: event.code, reason: event.reason, wasClean: event.wasClean }));
  return testSocket("memory", ws, inbox);
}

async function tcpClient(url: URL, headers: Record<string, string>): Promise<{ socket: TestWebSocket; terminate(): void }> {
  const protocols = headers["sec-websocket-protocol"]?.split(/\s*,\s*/);
  delete headers["sec-websocket-protocol"];
  const ws = new WsClient(url, protocols, { headers });
  const inbox = new Inbox();
  ws.on("message", (data: Buffer, isBinary: boolean) => inbox.push(isBinary ? toArrayBuffer(data) : data.toString()));
  ws.addEventListener("close", (event) => inbox.end({ code: event.code, reason: event.reason, wasClean: event.wasClean }));
  // Errors surface through `closed` (1006) or the open promise below; an unhandled 'error' event would crash the worker.
  ws.on("error", () => {});
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("unexpected-response", (_request, response) => {
      let body = "";
      response.on("data", (chunk: Buffer) => (body += chunk.toString()));
      response.on("end", () =>
        reject(new TestingError("ERR_TEST_CONNECT_FAILED", `WebSocket upgrade to ${url.pathname} was answered ${response.statusCode ?? 0}: ${body}`)),
      );
      response.on("error", reject);
    });
    ws.once("error", (error) =>
      reject(new TestingError("ERR_TEST_CONNECT_FAILED", `WebSocket connection to ${url.href} failed: ${error.message}`, { cause: error })),
    );
  });
  return { socket: testSocket("tcp", ws, inbox), terminate: () => ws.terminate() };
}

/** The send/close side of either transport's socket. */
type SocketSide = Pick<TestWebSocket, "readyState" | "send" | "close">;

/** A `TestWebSocket` sending through `ws` and receiving from `inbox`. */
function testSocket(transport: Transport, ws: SocketSide, inbox: Inbox): TestWebSocket {
  return {
    transport,
    get readyState() {
      return ws.readyState;
    },
    get pending() {
      return inbox.pending;
    },
    closed: inbox.closed,
    send: (data) => ws.send(data),
    next: (options) => inbox.next(options),
    nextJson: <T>(options?: { timeout?: number }) => inbox.nextJson<T>(options),
    close: (code, reason) => ws.close(code, reason),
  };
}

function toArrayBuffer(data: Buffer): ArrayBuffer {
  return data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) as ArrayBuffer;
}

async function bodyText(response: globalThis.Response): Promise<string> {
  try {
    return (await response.text()).slice(0, 500) || "(empty body)";
  } catch {
    return "(unreadable body)";
  }
}
