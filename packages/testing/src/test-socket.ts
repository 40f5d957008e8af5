import { TestingError } from "./errors.ts";

/** How a test client reaches the runtime: a real TCP connection (the `ws` package) or an in-process pair. */
export type Transport = "tcp" | "memory";

/** How a connection closed, as the client saw it. */
export interface CloseInfo {
  code: number;
  reason: string;
  /** False when the connection dropped without a closing handshake (code 1006). */
  wasClean: boolean;
}

/** A message as a test client receives it: text as a string, binary as an ArrayBuffer. */
export type TestMessage = string | ArrayBuffer;

/**
 * A WebSocket test client with the same interface over both transports.
 * Messages queue up until `next()` takes them, so a test awaits each one
 * instead of sleeping.
 */
export interface TestWebSocket {
  /** Which transport carries this connection. */
  readonly transport: Transport;
  /** WHATWG readyState: 0 connecting, 1 open, 2 closing, 3 closed. */
  readonly readyState: number;
  /** Received messages that `next()` has not taken yet. */
  readonly pending: number;
  /** Resolves once the connection is closed, with the code and reason from the other side. */
  readonly closed: Promise<CloseInfo>;
  /** Sends a text or binary message. */
  send(data: string | ArrayBuffer | ArrayBufferView): void;
  /**
   * The next message, in arrival order. Rejects after `timeout` ms
   * (default 2,000, real time: delivery is I/O, not a clock timer) or when
   * the connection closes first.
   */
  next(options?: { timeout?: number }): Promise<TestMessage>;
  /** The next message parsed as JSON. */
  nextJson<T = unknown>(options?: { timeout?: number }): Promise<T>;
  /** Starts the closing handshake; await `closed` for its end. */
  close(code?: number, reason?: string): void;
}

/** Default `next()` timeout in ms. */
export const DEFAULT_NEXT_TIMEOUT = 2_000;

/** The receive side shared by both transports: a message queue and the close outcome. */
export class Inbox {
  readonly #messages: TestMessage[] = [];
  readonly #waiters: Array<{ resolve: (m: TestMessage) => void; reject: (e: Error) => void }> = [];
  #closeInfo: CloseInfo | null = null;
  #resolveClosed!: (info: CloseInfo) => void;
  readonly closed = new Promise<CloseInfo>((resolve) => (this.#resolveClosed = resolve));

  get pending(): number {
    return this.#messages.length;
  }

  push(message: TestMessage): void {
    const waiter = this.#waiters.shift();
    if (waiter !== undefined) waiter.resolve(message);
    else this.#messages.push(message);
  }

  end(info: CloseInfo): void {
    if (this.#closeInfo !== null) return;
    this.#closeInfo = info;
    this.#resolveClosed(info);
    for (const waiter of this.#waiters.splice(0)) waiter.reject(closedError(info));
  }

  next(options: { timeout?: number } = {}): Promise<TestMessage> {
    const queued = this.#messages.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    if (this.#closeInfo !== null) return Promise.reject(closedError(this.#closeInfo));
    const timeout = options.timeout ?? DEFAULT_NEXT_TIMEOUT;
    return new Promise<TestMessage>((resolve, reject) => {
      const waiter = {
        resolve: (m: TestMessage) => {
          clearTimeout(timer);
          resolve(m);
        },
        reject: (e: Error) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      const timer = setTimeout(() => {
        this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
        reject(
          new TestingError(
            "ERR_TEST_TIMEOUT",
            `No WebSocket message within ${timeout} ms. Pass next({ timeout }) to wait longer, or check that the object sends one.`,
          ),
        );
      }, timeout);
      this.#waiters.push(waiter);
    });
  }

  async nextJson<T>(options?: { timeout?: number }): Promise<T> {
    const message = await this.next(options);
    if (typeof message !== "string")
      throw new TestingError("ERR_TEST_NOT_JSON", `Expected a JSON text message; got a ${message.byteLength}-byte binary message.`);
    return JSON.parse(message) as T;
  }
}

function closedError(info: CloseInfo): Error {
  return new TestingError(
    "ERR_TEST_SOCKET_CLOSED",
    `The WebSocket closed (code ${info.code}${info.reason === "" ? "" : ` "${info.reason}"`}${info.wasClean ? "" : ", not clean"}) before another message arrived.`,
  );
}
