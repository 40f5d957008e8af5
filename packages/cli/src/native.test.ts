import { describe, expect, it } from "vitest";
import { nativeNotice } from "./native.ts";

const built = { fdPassing: { ok: true, binding: {} }, mallocTrim: { ok: true, binding: {} } } as unknown as Parameters<typeof nativeNotice>[0];
const notBuilt = {
  ok: false,
  error: new Error("@torpor/native is not built or does not load (Cannot find module '../build/Release/torpor_native.node')"),
} as const;

describe("the line a server logs at start about @torpor/native", () => {
  it("is none where both capabilities loaded", () => {
    expect(nativeNotice(built)).toBeNull();
  });

  it("names each fallback and the reason once where the addon did not build", () => {
    expect(nativeNotice({ fdPassing: notBuilt, mallocTrim: notBuilt })).toEqual({
      message:
        "@torpor/native did not load: a reload moves sockets over Node IPC, one at a time; idle collections do not trim glibc's heaps (it needs python3, make and a C compiler at install)",
      reason: notBuilt.error.message,
    });
  });
});
