import { spawn, type ChildProcess } from "node:child_process";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { connect } from "./helpers.ts";

const here = dirname(fileURLToPath(import.meta.url));
const tsx = pathToFileURL(join(dirname(createRequire(join(here, "../../../package.json")).resolve("tsx/package.json")), "dist/loader.mjs")).href;

// The fixture server runs as a real process, so Node's own default (exit on
// an uncaught exception) is what is being overridden.
let child: ChildProcess;
let nextLine: () => Promise<string>;
let port = 0;
const url = (name: string, query = "") => `ws://127.0.0.1:${port}/F/${name}${query}`;

beforeAll(async () => {
  child = spawn(process.execPath, ["--conditions=@torpor/source", "--import", tsx, join(here, "fixtures/fault-isolation-server.ts")], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  nextLine = async () => (await lines.next()).value as string;
  port = Number(/^listening (\d+)$/.exec(await nextLine())![1]);
});
afterAll(() => void child.kill("SIGKILL"));

async function bystanderStillServed(): Promise<void> {
  const bystander = await connect(url("bystander"));
  bystander.send("still there?");
  expect(await bystander.next()).toBe("pong still there?");
  bystander.close();
  expect(child.exitCode).toBeNull();
}

describe("an exception escaping object code", () => {
  test.each([
    ["a setTimeout callback", "timer", "boom from a timer in"],
    ["a microtask", "microtask", "boom from a microtask in"],
    ["a callback three async hops away", "nested", "boom, three hops from"],
  ])("from %s is logged with its object, resets that object only, and the process goes on", async (_what, trigger, message) => {
    const victim = `victim-${trigger}`;
    const client = await connect(url(victim));
    const neighbour = await connect(url("neighbour"));
    client.send(trigger);
    expect(await client.next()).toBe(`pong ${trigger}`);
    expect((await client.closed).code).toBe(1011);
    expect(await nextLine()).toBe(`logged Uncaught exception in Durable Object code; resetting the object | ${victim} | ${message} ${victim}`);
    // Another object's socket was not touched.
    neighbour.send("ok?");
    expect(await neighbour.next()).toBe("pong ok?");
    neighbour.close();
    await bystanderStillServed();
    // The reset object starts afresh for the next client.
    const again = await connect(url(victim));
    again.send("hello");
    expect(await again.next()).toBe("pong hello");
    again.close();
  });

  test("from a timer a ws.accept() socket's listener set resets that object and closes the socket with 1011", async () => {
    const client = await connect(url("standard-victim", "?standard"));
    client.send("listener-later");
    expect(await client.next()).toBe("pong listener-later");
    expect((await client.closed).code).toBe(1011);
    expect(await nextLine()).toBe(
      "logged Uncaught exception in Durable Object code; resetting the object | standard-victim | boom from a listener's timer in standard-victim",
    );
    await bystanderStillServed();
  });

  test("thrown by a ws.accept() socket's listener itself is reported like a throwing handler: logged, socket and object go on", async () => {
    const client = await connect(url("standard-thrower", "?standard"));
    client.send("listener");
    expect(await nextLine()).toBe("logged Uncaught error in a WebSocket event listener | standard-thrower | boom from a listener in standard-thrower");
    client.send("again");
    expect(await client.next()).toBe("pong again");
    client.close();
    await bystanderStillServed();
  });

  test("from the Worker's own code is logged and the process goes on", async () => {
    const response = await fetch(`http://127.0.0.1:${port}/worker-timer`);
    expect(await response.text()).toBe("scheduled");
    expect(await nextLine()).toBe("logged Uncaught exception in the Worker's code (the server keeps running) | - | boom from the Worker's timer");
    await bystanderStillServed();
  });

  // Last: it ends the shared server process.
  test("outside any object and the Worker is logged and ends the process with code 1 (its state is unknown)", async () => {
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    child.stdin!.write("throw\n");
    expect(await nextLine()).toBe(
      "logged Uncaught exception outside any Durable Object or Worker code; exiting (the process state is unknown) | - | boom outside any object",
    );
    expect(await exited).toBe(1);
  });
});
