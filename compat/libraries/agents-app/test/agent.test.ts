/**
 * A Cloudflare Agents SDK app on `torpor dev` and on workerd: initialState,
 * setState reaching a client, @callable() methods, this.sql, and
 * this.schedule() firing (on Torpor: once while the agent is hibernated,
 * once after a restart of torpor).
 */
import { fileURLToPath } from "node:url";
import { AgentClient } from "agents/client";
import { afterEach, describe, expect, onTestFinished, test, vi } from "vitest";
import WebSocket from "ws";
import { TorporApp, startWorkerd, type AppTarget } from "../../shared/targets.ts";
import type { State } from "../src/index.ts";

const appDir = fileURLToPath(new URL("..", import.meta.url));
const running: Array<{ stop(): Promise<void> | void }> = [];

afterEach(async () => {
  for (const item of running.splice(0).reverse()) await item.stop();
});

/** An AgentClient that records every state the server pushes. */
async function connect(target: AppTarget, name: string): Promise<{ client: AgentClient; states: State[] }> {
  const states: State[] = [];
  const client = new AgentClient({ agent: "Counter", name, host: target.host, WebSocket, onStateUpdate: (state: State) => void states.push(state) });
  running.push({ stop: () => client.close() });
  await client.ready;
  return { client, states };
}

/** initialState, setState, @callable() and this.sql: the same on both runtimes. */
async function basics(target: AppTarget, name: string): Promise<{ client: AgentClient; states: State[] }> {
  const session = await connect(target, name);
  await vi.waitFor(() => expect(session.states[0]).toEqual({ count: 0, fired: [] }));
  expect(await session.client.call("increment", [])).toBe(1);
  expect(await session.client.call("increment", [])).toBe(2);
  await vi.waitFor(() => expect(session.states.at(-1)).toEqual({ count: 2, fired: [] }));
  expect(await session.client.call("addNote", ["first"])).toEqual(["first"]);
  expect(await session.client.call("addNote", ["second"])).toEqual(["first", "second"]);
  const other = await connect(target, name);
  await vi.waitFor(() => expect(other.states[0]).toEqual({ count: 2, fired: [] }));
  return session;
}

describe("agents (Cloudflare Agents SDK)", () => {
  test("on torpor dev: state, callables, sql; a schedule fires while hibernated and after a restart", async () => {
    const app = await TorporApp.start(appDir);
    running.push(app);
    onTestFinished(() => expect(app.stderr(), "torpor logged a warning or an error").not.toMatch(/\] (warn|error):/));
    const { client, states } = await basics(app, "c1");

    // Due in 3 s: time enough to hibernate first, even on a loaded machine.
    await client.call("remind", [3, "while-hibernated"]);
    await app.hibernate("Counter", "c1");
    expect(await app.object("Counter", "c1")).toMatchObject({ state: "hibernated" });
    await vi.waitFor(() => expect(states.at(-1)?.fired).toEqual(["while-hibernated"]), { timeout: 10_000 });
    expect(await app.object("Counter", "c1")).toMatchObject({ woken: 1 });

    await client.call("remind", [2, "after-restart"]);
    for (const item of running.splice(1).reverse()) await item.stop();
    await app.restart();
    const after = await connect(app, "c1");
    await vi.waitFor(() => expect(after.states.at(-1)).toEqual({ count: 2, fired: ["while-hibernated", "after-restart"] }), { timeout: 10_000 });
    // SQL rows survived the restart too.
    expect(await after.client.call("addNote", ["third"])).toEqual(["first", "second", "third"]);
  });

  test("on workerd (miniflare): state, callables, sql, and a schedule firing", async () => {
    const workerd = await startWorkerd(appDir);
    running.push(workerd);
    const { client, states } = await basics(workerd, "c1");
    await client.call("remind", [1, "scheduled"]);
    await vi.waitFor(() => expect(states.at(-1)?.fired).toEqual(["scheduled"]), { timeout: 10_000 });
  });
});
