import { expect, test, vi } from "vitest";
import { adviceFor } from "./error-advice.ts";
import { domException, workerdError } from "./errors.ts";
import { jsonLogger } from "./logger.ts";

test("errors with workerd's messages get their fix from the advice table, by code or DOMException name", () => {
  expect(adviceFor(workerdError(Error, "ERR_TOO_MANY_TAGS", "a Hibernatable WebSocket cannot have more than 10 tags"))).toMatch(/Combine tags/);
  expect(adviceFor(domException("DataCloneError", "() => 1 could not be cloned."))).toMatch(/plain data/);
  expect(adviceFor(new Error("plain"))).toBeUndefined();
  expect(adviceFor("not an error")).toBeUndefined();
});

test("the code rides along non-enumerable, so the error equals workerd's", () => {
  const error = workerdError(TypeError, "ERR_WEBSOCKET_CLOSED", "Can't call WebSocket send() after close().");
  expect(error).toEqual(new TypeError("Can't call WebSocket send() after close()."));
  expect(error.constructor).toBe(TypeError);
  expect(error.code).toBe("ERR_WEBSOCKET_CLOSED");
  expect(Object.keys(error)).toEqual([]);
});

test("the logger's line carries the hint", () => {
  const lines: string[] = [];
  const spy = vi.spyOn(process.stdout, "write").mockImplementation((chunk) => (lines.push(String(chunk)), true));
  try {
    jsonLogger().error("Uncaught error in fetch()", {
      error: workerdError(Error, "ERR_TAG_TOO_LONG", '"x" is longer than the max tag length (256 characters).'),
    });
  } finally {
    spy.mockRestore();
  }
  const entry = JSON.parse(lines[0]!) as { hint: string; error: { code: string } };
  expect(entry.error.code).toBe("ERR_TAG_TOO_LONG");
  expect(entry.hint).toMatch(/shorter tag/);
});
