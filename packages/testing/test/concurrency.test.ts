import { existsSync } from "node:fs";
import { describe, expect, test } from "vitest";
import { createTestRuntime } from "../src/index.ts";
import { objects } from "./fixtures.ts";

const dirs: string[] = [];

describe("test.concurrent", () => {
  for (const name of ["a", "b", "c", "d"]) {
    test.concurrent(`runtime ${name} has its own storage, clock and server`, async ({ expect, onTestFinished }) => {
      const t = createTestRuntime({ objects, context: { onTestFinished } });
      dirs.push(t.storageDir!);
      const stub = t.env.COUNTER.getByName("shared-name");
      const ws = await t.connect(t.env.ROOM.getByName("shared-name"), { transport: "tcp" });
      for (let i = 1; i <= 5; i++) {
        expect(await stub.increment()).toBe(i);
        ws.send(`${name}${i}`);
        expect(await ws.next()).toBe(`echo:${name}${i}`);
        await t.evictAllDurableObjects();
      }
      const before = t.clock.now();
      await t.clock.advance(1_000);
      expect(t.clock.now() - before).toBe(1_000);
      expect(t.lifecycle(stub)).toMatchObject({ constructed: 5, evicted: 5 });
    });
  }

  test.concurrent("without the test context, createTestRuntime refuses (vitest cannot tell concurrent tests apart)", ({ expect }) => {
    expect(() => createTestRuntime({ objects })).toThrow(expect.objectContaining({ code: "ERR_TEST_CONTEXT" }));
  });
});

test("every concurrent runtime was cleaned up: four distinct temp dirs, all removed", () => {
  expect(new Set(dirs).size).toBe(4);
  for (const dir of dirs) expect(existsSync(dir)).toBe(false);
});

describe("outside a test", () => {
  // Runs at collection time, where no test is current: nothing could clean the runtime up.
  let refused: unknown;
  try {
    void createTestRuntime({ objects });
  } catch (error) {
    refused = error;
  }

  test("createTestRuntime refuses unless cleanup is manual (context: null)", async () => {
    expect(refused).toMatchObject({ code: "ERR_TEST_CONTEXT", message: expect.stringContaining("outside a test") });
    const t = createTestRuntime({ objects, context: null });
    await t.close();
    expect(existsSync(t.storageDir!)).toBe(false);
  });
});
