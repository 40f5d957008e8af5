/** Stable codes of {@link TestingError}. */
export type TestingErrorCode =
  /** `next()` waited longer than its timeout. */
  | "ERR_TEST_TIMEOUT"
  /** The connection closed while `next()` waited for a message. */
  | "ERR_TEST_SOCKET_CLOSED"
  /** `nextJson()` received a binary message. */
  | "ERR_TEST_NOT_JSON"
  /** `connect()` was answered with something other than a WebSocket upgrade. */
  | "ERR_TEST_CONNECT_FAILED"
  /** The test runtime was used without a way to clean it up, or from the wrong test. */
  | "ERR_TEST_CONTEXT"
  /** The vitest plugin's options name no Worker entry, or ask for what Torpor does not do (a named wrangler environment). */
  | "ERR_TEST_CONFIG"
  /** A `cloudflare:test` export for a Cloudflare product Torpor does not run (Queues, D1, Workflows…). */
  | "ERR_TEST_UNSUPPORTED";

/**
 * Errors of @torpor/testing (runtime errors keep their `TorporError` codes).
 * Match on `code`, not on the message.
 */
export class TestingError extends Error {
  override readonly name = "TestingError";
  readonly code: TestingErrorCode;

  constructor(code: TestingErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}
