import { describe, expect, test } from "vitest";
import { EVICT_CLOSE_CODE, EVICT_CLOSE_REASON, connect, createTestRuntime, type TestingError, type Transport } from "../src/index.ts";
import { objects } from "./fixtures.ts";

describe.each<Transport>(["tcp", "memory"])("connect over %s", (transport) => {
  test("to a stub: send, next, binary, and the object sees the path", async () => {
    const t = createTestRuntime({ objects, transport });
    const ws = await t.connect(t.env.ROOM.getByName("r"), "/join?name=ann");
    expect(ws.transport).toBe(transport);
    expect(ws.readyState).toBe(1);
    ws.send("hi");
    expect(await ws.next()).toBe("echo:hi");
    ws.send("whoami");
    expect(await ws.nextJson()).toEqual({ name: "ann", path: "/join" });
    ws.send(new Uint8Array([1, 2, 3]));
    const binary = await ws.next();
    expect(binary).toBeInstanceOf(ArrayBuffer);
    expect([...new Uint8Array(binary as ArrayBuffer)]).toEqual([1, 2, 3]);
  });

  test("messages queue until next() takes them, in order", async () => {
    const t = createTestRuntime({ objects, transport });
    const ws = await t.connect(t.env.ROOM.getByName("q"));
    for (const m of ["a", "b", "c"]) ws.send(m);
    await t.runInDurableObject(t.env.ROOM.getByName("q"), () => {}); // the three events ran before this one
    await expect.poll(() => ws.pending).toBe(3);
    expect([await ws.next(), await ws.next(), await ws.next()]).toEqual(["echo:a", "echo:b", "echo:c"]);
  });

  test("a close from the object resolves closed with its code and reason", async () => {
    const t = createTestRuntime({ objects, transport });
    const ws = await t.connect(t.env.ROOM.getByName("c"));
    ws.send("close 4001");
    expect(await ws.closed).toEqual({ code: 4001, reason: "asked to", wasClean: true });
    expect(ws.readyState).toBe(3);
    await expect(ws.next()).rejects.toMatchObject({ code: "ERR_TEST_SOCKET_CLOSED" });
  });

  test("a close from the client reaches webSocketClose", async () => {
    const t = createTestRuntime({ objects, transport });
    const stub = t.env.ROOM.getByName("cc");
    const ws = await t.connect(stub);
    ws.close(4002, "done");
    expect(await ws.closed).toMatchObject({ code: 4002, wasClean: true });
    await expect.poll(() => t.runInDurableObject(stub, (room) => room.closes)).toEqual([{ code: 4002, reason: "done" }]);
  });

  test("next() rejects after its timeout when nothing comes", async () => {
    const t = createTestRuntime({ objects, transport });
    const ws = await t.connect(t.env.ROOM.getByName("quiet"));
    await expect(ws.next({ timeout: 20 })).rejects.toMatchObject({ code: "ERR_TEST_TIMEOUT" } satisfies Partial<TestingError>);
    ws.send("late");
    expect(await ws.next()).toBe("echo:late"); // a timed-out wait does not eat the next message
  });

  test("next() waiting when the connection closes rejects with the close", async () => {
    const t = createTestRuntime({ objects, transport });
    const stub = t.env.ROOM.getByName("drop");
    const ws = await t.connect(stub);
    const waiting = ws.next();
    await t.evictDurableObject(stub, { webSockets: "close" });
    await expect(waiting).rejects.toThrow(`closed (code ${EVICT_CLOSE_CODE} "${EVICT_CLOSE_REASON}")`);
  });

  test("to a path, through the default routing (/<BINDING>/<name>/…)", async () => {
    const t = createTestRuntime({ objects, transport });
    const ws = await t.connect("/ROOM/by-path/x?name=bo");
    ws.send("whoami");
    expect(await ws.nextJson()).toEqual({ name: "bo", path: "/ROOM/by-path/x" });
    expect(t.lifecycle(t.env.ROOM.getByName("by-path")).sockets).toBe(1);
  });

  test("to a path, through your Worker fetch; a stub bypasses the Worker's routing", async () => {
    const t = createTestRuntime({
      objects,
      transport,
      fetch: (request, env) => {
        const url = new URL(request.url);
        if (!url.pathname.startsWith("/rooms/")) return new Response("not here", { status: 404 });
        return env.ROOM.getByName(url.pathname.slice(7)).fetch(request);
      },
    });
    const viaWorker = await t.connect("/rooms/lobby");
    const viaStub = await t.connect(t.env.ROOM.getByName("lobby"), "/anything");
    viaStub.send("count");
    expect(await viaStub.next()).toBe("2");
    viaWorker.send("whoami");
    expect(await viaWorker.nextJson()).toEqual({ name: "anon", path: "/rooms/lobby" });
    await expect(t.connect("/elsewhere")).rejects.toMatchObject({ code: "ERR_TEST_CONNECT_FAILED", message: expect.stringContaining("404: not here") });
  });

  test("a refused upgrade fails with the status and body", async () => {
    const t = createTestRuntime({ objects, transport, fetch: () => new Response("go away", { status: 403 }) });
    await expect(t.connect("/x")).rejects.toMatchObject({ code: "ERR_TEST_CONNECT_FAILED", message: expect.stringContaining("403: go away") });
  });

  test("module-level connect(stub) finds the stub's test runtime", async () => {
    const t = createTestRuntime({ objects });
    const ws = await connect(t.env.ROOM.getByName("m"), "/", { transport });
    expect(ws.transport).toBe(transport);
    ws.send("x");
    expect(await ws.next()).toBe("echo:x");
  });

  test("runtime close at the end of a test closes clients with 1012", async () => {
    const t = createTestRuntime({ objects, transport, context: null });
    const ws = await t.connect(t.env.ROOM.getByName("bye"));
    await t.close();
    expect(await ws.closed).toMatchObject({ code: 1012 });
  });
});

test("an absolute ws:// URL connects over TCP", async () => {
  const t = createTestRuntime({ objects });
  const { url } = await t.listen();
  const ws = await t.connect(`${url.replace("http", "ws")}/ROOM/abs`, { transport: "tcp" });
  ws.send("y");
  expect(await ws.next()).toBe("echo:y");
});

test("a stub over TCP makes the runtime listen on port 0 lazily", async () => {
  const t = createTestRuntime({ objects });
  expect(t.url).toBeUndefined();
  await t.connect(t.env.ROOM.getByName("lazy"), { transport: "tcp" });
  expect(t.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
});

test("a dropped TCP connection is seen as 1006, not clean", async () => {
  const t = createTestRuntime({ objects, transport: "tcp" });
  const ws = await t.connect(t.env.ROOM.getByName("kill"));
  const [end] = t.runtime.hostFor(t.env.ROOM.getByName("kill")).sockets.list();
  end!.terminate();
  expect(await ws.closed).toMatchObject({ code: 1006, wasClean: false });
});
