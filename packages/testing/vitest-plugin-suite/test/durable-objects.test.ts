import { env, evictAllDurableObjects, evictDurableObject, listDurableObjectIds, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { expect, test, vi } from "vitest";
import { Box } from "../src/worker.ts";

test("runInDurableObject runs in the live instance; its writes persist", async () => {
  const stub = env.BOX.getByName("run-in");
  await stub.fetch("http://x/");
  const seen = await runInDurableObject(stub, async (instance: Box, state) => {
    expect(instance).toBeInstanceOf(Box);
    await state.storage.put("k", "v");
    return instance.field;
  });
  expect(seen).toBe(1);
  expect(await stub.get("k")).toBe("v");
  await expect(runInDurableObject(stub, () => Promise.reject(new RangeError("inside")))).rejects.toThrow(new RangeError("inside"));
});

test("runDurableObjectAlarm deletes the alarm, then calls alarm() with no info; false when none is set", async () => {
  const stub = env.BOX.getByName("alarm");
  expect(await runDurableObjectAlarm(stub)).toBe(false);
  await stub.setAlarmIn(60_000, 0);
  expect(await runDurableObjectAlarm(stub)).toBe(true);
  expect(await stub.get("alarmCalls")).toEqual([null]);
  expect(await runInDurableObject(stub, (_, state) => state.storage.getAlarm())).toBeNull();
  expect(await runDurableObjectAlarm(stub)).toBe(false);
});

test("a throwing alarm() rejects runDurableObjectAlarm and is not retried", async () => {
  const stub = env.BOX.getByName("alarm-throws");
  await stub.setAlarmIn(60_000, 1);
  await expect(runDurableObjectAlarm(stub)).rejects.toThrow("alarm failed on purpose");
  expect(await runInDurableObject(stub, (_, state) => state.storage.getAlarm())).toBeNull();
  expect(await stub.get("alarmCalls")).toEqual([null]);
});

test("an alarm that comes due and throws is retried with retryCount 1", async () => {
  const stub = env.BOX.getByName("alarm-retry");
  await stub.setAlarmIn(10, 1);
  // The first retry comes 2 s after the failure, on the real clock (as on Cloudflare).
  await vi.waitFor(async () => expect(await stub.get("alarmCalls")).toHaveLength(2), { timeout: 10_000, interval: 50 });
  expect(await stub.get("alarmCalls")).toEqual([
    // workerd's AlarmInvocationInfo also carries the firing time (compat/ checks its keys).
    { retryCount: 0, isRetry: false, scheduledTime: expect.any(Number) },
    { retryCount: 1, isRetry: true, scheduledTime: expect.any(Number) },
  ]);
});

test("evictDurableObject drops the instance, keeps storage, and rejects for an object not running", async () => {
  const stub = env.BOX.getByName("evict");
  await expect(evictDurableObject(stub)).rejects.toThrow(new Error("Cannot evict Durable Object: it is not currently running."));
  expect(await (await stub.fetch("http://x/")).text()).toBe("1");
  await stub.put("kept", 1);
  await evictDurableObject(stub);
  expect(await (await stub.fetch("http://x/")).text()).toBe("1");
  expect(await stub.get("kept")).toBe(1);
  await expect(evictDurableObject(stub, { webSockets: "neither" as never })).rejects.toThrow(
    new TypeError('options.webSockets must be "hibernate" or "close".'),
  );
});

test("eviction keeps hibernatable WebSockets by default and drops them with webSockets: close", async () => {
  const stub = env.BOX.getByName("sockets");
  const ws = (await stub.fetch("http://x/", { headers: { Upgrade: "websocket" } })).webSocket!;
  ws.accept();
  const messages: string[] = [];
  ws.addEventListener("message", (event) => void messages.push(String(event.data)));
  const closed = new Promise<CloseEvent>((resolve) => ws.addEventListener("close", (event) => resolve(event as CloseEvent)));

  await evictDurableObject(stub);
  ws.send("after eviction");
  await vi.waitFor(() => expect(messages).toEqual(["echo after eviction"]));

  await evictDurableObject(stub, { webSockets: "close" });
  const event = await closed;
  expect({ code: event.code, reason: event.reason, wasClean: event.wasClean }).toEqual({
    code: 1006,
    reason: "WebSocket disconnected without sending Close frame.",
    wasClean: false,
  });
  expect(await runInDurableObject(stub, (_, state) => state.getWebSockets().length)).toBe(0);
});

test("evictAllDurableObjects evicts every running object", async () => {
  const a = env.BOX.getByName("all-a");
  const b = env.BOX.getByName("all-b");
  await a.fetch("http://x/");
  await b.fetch("http://x/");
  await evictAllDurableObjects();
  expect(await (await a.fetch("http://x/")).text()).toBe("1");
  expect(await (await b.fetch("http://x/")).text()).toBe("1");
});

test("listDurableObjectIds lists objects that ran, without names; a bare stub is not listed", async () => {
  env.BOX.getByName("only-a-stub");
  const ids = await listDurableObjectIds(env.BOX);
  const hex = ids.map(String);
  expect(hex).toContain(env.BOX.idFromName("run-in").toString());
  expect(hex).not.toContain(env.BOX.idFromName("only-a-stub").toString());
  expect(hex).toEqual([...hex].sort());
  expect(ids.every((id) => id.name === undefined)).toBe(true);
});

test("verbs given something else than a stub or namespace throw Cloudflare's TypeErrors", async () => {
  const stubError = (method: string) => new TypeError(`Failed to execute '${method}': parameter 1 is not of type 'DurableObjectStub'.`);
  await expect(runInDurableObject({} as never, () => 1)).rejects.toThrow(stubError("runInDurableObject"));
  await expect(runInDurableObject(env.BOX.getByName("x"), 1 as never)).rejects.toThrow(
    new TypeError("Failed to execute 'runInDurableObject': parameter 2 is not of type 'function'."),
  );
  await expect(runDurableObjectAlarm(env.BOX as never)).rejects.toThrow(stubError("runDurableObjectAlarm"));
  await expect(evictDurableObject(null as never)).rejects.toThrow(stubError("evictDurableObject"));
  await expect(listDurableObjectIds(env.BOX.getByName("x") as never)).rejects.toThrow(
    new TypeError("Failed to execute 'listDurableObjectIds': parameter 1 is not of type 'DurableObjectNamespace'."),
  );
});
