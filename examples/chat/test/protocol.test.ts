import { describe, expect, it } from "vitest";
import { ERROR_CODES, LIMITS, displayNameSchema, parseClientFrame, roomNameSchema } from "../src/protocol.ts";

describe("parseClientFrame", () => {
  it("accepts the three client frames, trimming text and defaulting the page size", () => {
    expect(parseClientFrame(JSON.stringify({ type: "message", text: "  hi  " }))).toEqual({ ok: true, frame: { type: "message", text: "hi" } });
    expect(parseClientFrame('{"type":"typing"}')).toEqual({ ok: true, frame: { type: "typing" } });
    expect(parseClientFrame('{"type":"history","before":7}')).toEqual({
      ok: true,
      frame: { type: "history", before: 7, limit: LIMITS.historyOnJoin },
    });
  });

  it.each([
    ["not JSON", "{", ERROR_CODES.BAD_JSON],
    ["a JSON string", '"message"', ERROR_CODES.BAD_JSON],
    ["null", "null", ERROR_CODES.BAD_JSON],
    ["an array", "[]", ERROR_CODES.BAD_JSON],
    ["no type", "{}", ERROR_CODES.UNKNOWN_TYPE],
    ["a numeric type", '{"type":1}', ERROR_CODES.UNKNOWN_TYPE],
    ["an unknown type", '{"type":"welcome"}', ERROR_CODES.UNKNOWN_TYPE],
    ["a prototype key as type", '{"type":"toString"}', ERROR_CODES.UNKNOWN_TYPE],
    ["text over the limit", JSON.stringify({ type: "message", text: "é".repeat(LIMITS.maxTextLength + 1) }), ERROR_CODES.TEXT_TOO_LONG],
    ["whitespace-only text", '{"type":"message","text":" \\n "}', ERROR_CODES.INVALID_MESSAGE],
    ["missing text", '{"type":"message"}', ERROR_CODES.INVALID_MESSAGE],
    ["a fractional cursor", '{"type":"history","before":1.5}', ERROR_CODES.INVALID_MESSAGE],
    ["a zero limit", '{"type":"history","before":3,"limit":0}', ERROR_CODES.INVALID_MESSAGE],
  ])("rejects %s", (_what, raw, code) => {
    const result = parseClientFrame(raw);
    expect(result).toMatchObject({ ok: false, code });
  });

  it("accepts text exactly at the limit, counting after trimming", () => {
    const text = "x".repeat(LIMITS.maxTextLength);
    expect(parseClientFrame(JSON.stringify({ type: "message", text: `  ${text}  ` })).ok).toBe(true);
  });

  it("says how long the text was in the too-long error", () => {
    const result = parseClientFrame(JSON.stringify({ type: "message", text: "x".repeat(2_345) }));
    expect(result).toMatchObject({ ok: false, message: "Message is 2,345 characters; the limit is 2,000." });
  });

  it("rejects binary frames", () => {
    expect(parseClientFrame(new ArrayBuffer(2))).toMatchObject({ ok: false, code: ERROR_CODES.BINARY_UNSUPPORTED });
  });
});

describe("names", () => {
  it("trims and collapses display names, 1–32 characters, no control characters", () => {
    expect(displayNameSchema.parse("  Ada \t Lovelace ")).toBe("Ada Lovelace");
    expect(displayNameSchema.parse("x".repeat(32))).toHaveLength(32);
    for (const bad of ["", "   ", "x".repeat(33), "a\u0000b", "bell\u0007"]) {
      expect(displayNameSchema.safeParse(bad).success, JSON.stringify(bad)).toBe(false);
    }
  });

  it("allows room names of 1–64 characters of a-z, 0-9, '-' and '_'", () => {
    for (const ok of ["a", "lobby", "my_team-2", "x".repeat(64)]) expect(roomNameSchema.safeParse(ok).success, ok).toBe(true);
    for (const bad of ["", "Lobby", "a b", "x".repeat(65), "é", "../x"]) expect(roomNameSchema.safeParse(bad).success, bad).toBe(false);
  });
});
