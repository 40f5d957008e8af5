import { deserialize, serialize } from "node:v8";
import { describe, expect, test, vi } from "vitest";

// Counts the serializations attachment.ts makes (the real ones run).
const counts = vi.hoisted(() => ({ serialize: 0 }));
vi.mock("node:v8", async (importOriginal) => {
  const v8 = await importOriginal<typeof import("node:v8")>();
  return {
    ...v8,
    serialize: (value: unknown) => {
      counts.serialize++;
      return v8.serialize(value);
    },
  };
});
const { deserializeAttachment, serializeAttachment } = await import("./attachment.ts");

/** What the full path stores for `value`: its structured clone. */
const cloned = (value: unknown) => deserialize(serialize(value));

describe("flat attachments are cloned without serializing", () => {
  test("a flat record (what a handshake sets) is stored without a serialization, and reads back as its clone", () => {
    counts.serialize = 0;
    const value = { user: "ann", joined: 1_700_000_000_000, admin: false, room: null, note: undefined, "7": -0, ratio: Number.NaN };
    const stored = serializeAttachment(value, 2048);
    expect(counts.serialize).toBe(0);
    const read = deserializeAttachment(stored) as Record<string, unknown>;
    expect(read).toEqual(cloned(value));
    expect(Object.keys(read)).toEqual(Object.keys(cloned(value) as object));
    expect(Object.is(read["7"], -0)).toBe(true);
  });

  test("what is not certainly flat and small takes the full path, with the same outcome as before", () => {
    const hidden = Object.defineProperty({ a: 1 }, "h", { enumerable: false, value: 2 });
    const proto = JSON.parse('{"__proto__": 1, "a": 2}') as object;
    const symbolKey = { a: 1, [Symbol("s")]: 2 };
    const flatAnyway = [hidden, symbolKey];
    for (const value of [hidden, proto, symbolKey, { n: 10n }, { d: new Date(0) }, { nested: { a: 1 } }, Object.create(null), [1, 2]]) {
      counts.serialize = 0;
      const stored = serializeAttachment(value, 2048);
      expect(counts.serialize).toBe(flatAnyway.includes(value) ? 0 : 1);
      expect(deserializeAttachment(stored)).toEqual(cloned(value));
    }
    // A getter runs once, in the full path's serialization.
    let reads = 0;
    const withGetter = Object.defineProperty({ a: 1 }, "b", { enumerable: true, get: () => ++reads });
    counts.serialize = 0;
    expect(deserializeAttachment(serializeAttachment(withGetter, 2048))).toEqual({ a: 1, b: 1 });
    expect([reads, counts.serialize]).toEqual([1, 1]);
    expect(() => serializeAttachment({ s: Symbol("x") }, 2048)).toThrow(expect.objectContaining({ name: "DataCloneError" }));
    expect(() => serializeAttachment(new Proxy({ a: 1 }, {}), 2048)).toThrow(expect.objectContaining({ name: "DataCloneError" }));
  });

  test("near the size limit the serialized bytes decide, as before", () => {
    for (const char of ["a", "é", "ж"]) {
      const limit = 2_000;
      let n = 0;
      while (serialize({ u: char.repeat(n + 1) }).length <= limit) n++;
      expect(() => serializeAttachment({ u: char.repeat(n) }, limit)).not.toThrow();
      expect(() => serializeAttachment({ u: char.repeat(n + 1) }, limit)).toThrow(expect.objectContaining({ code: "ERR_ATTACHMENT_TOO_LARGE" }));
    }
  });
});
