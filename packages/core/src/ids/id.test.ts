import { describe, expect, test } from "vitest";
import { DurableObject, Runtime, TorporError, silentLogger } from "../index.ts";

class Thing extends DurableObject {}

function runtime() {
  return new Runtime({ objects: { A: Thing, B: Thing }, logger: silentLogger });
}

describe("ids", () => {
  test("idFromName is deterministic, 64 hex characters, and keeps the name", () => {
    const ns = runtime().namespace("A");
    const a = ns.idFromName("lobby");
    expect(a.toString()).toMatch(/^[0-9a-f]{64}$/);
    expect(ns.idFromName("lobby").toString()).toBe(a.toString());
    expect(a.equals(ns.idFromName("lobby"))).toBe(true);
    expect(a.equals(ns.idFromName("other"))).toBe(false);
    expect(a.name).toBe("lobby");
    // Same across runtimes (it must address the same stored object after a restart).
    expect(runtime().namespace("A").idFromName("lobby").toString()).toBe(a.toString());
  });

  test("the same name in two namespaces gives two ids", () => {
    const rt = runtime();
    expect(rt.namespace("A").idFromName("x").toString()).not.toBe(rt.namespace("B").idFromName("x").toString());
  });

  test("newUniqueId is random and round-trips through idFromString", () => {
    const ns = runtime().namespace("A");
    const a = ns.newUniqueId();
    expect(a.toString()).toMatch(/^[0-9a-f]{64}$/);
    expect(a.name).toBeUndefined();
    expect(ns.newUniqueId().equals(a)).toBe(false);
    const parsed = ns.idFromString(a.toString());
    expect(parsed.equals(a)).toBe(true);
  });

  test("idFromString throws workerd's TypeError for anything but 64 hex digits, and takes either case", () => {
    const ns = runtime().namespace("A");
    for (const bad of ["", "xyz", "g".repeat(64), "0".repeat(63), "0".repeat(65), 42, undefined, { toString: () => "x" }]) {
      const error = (() => {
        try {
          ns.idFromString(bad as string);
        } catch (e) {
          return e;
        }
      })();
      // workerd (1.20260730): `Invalid Durable Object ID: must be 64 hex digits`, a TypeError.
      expect(error).toEqual(new TypeError("Invalid Durable Object ID: must be 64 hex digits"));
      expect(error).not.toBeInstanceOf(TorporError);
      expect((error as { code: string }).code).toBe("ERR_INVALID_ID");
    }
    const id = ns.newUniqueId();
    expect(ns.idFromString(id.toString().toUpperCase()).equals(id)).toBe(true);
    expect(ns.idFromString(id.toString().toUpperCase()).toString()).toBe(id.toString());
  });

  test("get() refuses an id from another namespace and a non-id", () => {
    const rt = runtime();
    const id = rt.namespace("B").idFromName("x");
    expect(() => rt.namespace("A").get(id)).toThrow(expect.objectContaining({ code: "ERR_ID_WRONG_NAMESPACE" }));
    expect(() => rt.namespace("A").get("abc" as never)).toThrow(
      new TypeError("Failed to execute 'get' on 'DurableObjectNamespace': parameter 1 is not of type 'DurableObjectId'."),
    );
    // workerd converts the name to a string.
    expect(
      rt
        .namespace("A")
        .idFromName(5 as never)
        .equals(rt.namespace("A").idFromName("5")),
    ).toBe(true);
    expect(rt.namespace("A").idFromName(5 as never).name).toBe("5");
  });
});
