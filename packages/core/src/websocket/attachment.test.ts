import { deserialize, serialize } from "node:v8";
import { describe, expect, test } from "vitest";
import { deserializeAttachment, serializeAttachment } from "./attachment.ts";

describe("attachments", () => {
  test("a flat record reads back as a structured clone would: keys, order, -0, NaN, undefined, bigint", () => {
    const value = { user: "ann", 2: "two", joined: -0, score: NaN, gone: undefined, big: 12n, ok: true, none: null };
    const stored = serializeAttachment(value, 2048);
    const read = deserializeAttachment(stored) as typeof value;
    const cloned = deserialize(serialize(value)) as typeof value;
    expect(read).toStrictEqual(cloned);
    expect(Object.keys(read)).toEqual(Object.keys(cloned));
    expect(Object.is(read.joined, -0)).toBe(true);
    expect("gone" in read).toBe(true);
    expect(Object.getPrototypeOf(read)).toBe(Object.prototype);
  });

  test("every read is a fresh copy, for flat records and for everything else", () => {
    for (const value of [{ user: "ann" }, { user: { name: "ann" } }, [1, 2], new Map([["a", 1]])]) {
      const stored = serializeAttachment(value, 2048);
      const first = deserializeAttachment(stored) as Record<string, unknown>;
      expect(deserializeAttachment(stored)).not.toBe(first);
      (first as { user?: unknown }).user = "changed";
      expect(deserializeAttachment(stored)).toEqual(value);
    }
  });

  test("the value is captured when set: later changes to it do not show", () => {
    const value = { user: "ann" };
    const stored = serializeAttachment(value, 2048);
    value.user = "bob";
    expect(deserializeAttachment(stored)).toEqual({ user: "ann" });
  });

  test("the size limit applies to the serialized bytes, flat or not", () => {
    expect(() => serializeAttachment({ user: "x".repeat(3000) }, 2048)).toThrow(expect.objectContaining({ code: "ERR_ATTACHMENT_TOO_LARGE" }));
    expect(() => serializeAttachment({ f() {} }, 2048)).toThrow(expect.objectContaining({ name: "DataCloneError", code: 25 }));
    expect(deserializeAttachment(null)).toBeNull();
  });
});
