/**
 * A reload's move of hibernated WebSockets in batches (many descriptors per
 * message on each worker's descriptor channel: packages/native and
 * src/cluster/fd-channel.ts), and the same reload over Node IPC, one socket
 * per message, when the addon is not there (TORPOR_FD_PASSING=0 stands for a
 * machine that could not compile it). Real processes (`torpor start --workers
 * 2`), real sockets; each socket must still echo afterwards from the new code,
 * with its tags and attachment, and none may close.
 */
import { loadNative } from "@torpor/native";
import { describe, expect, it } from "vitest";
import { Client, logLine, startCluster } from "./cluster-helpers.ts";

/** Sockets over objects: a few hundred, so that a worker's sockets fill more than one message of 250 descriptors. */
const SOCKETS = 600;
const OBJECTS = 60;
const TEST_MS = 240_000;

async function reloadMovesEverySocket(env: Record<string, string>): Promise<{ reloaded: Record<string, unknown>; warnings: Array<Record<string, unknown>> }> {
  const cluster = await startCluster(2, ["--admin-port", "0", "--move-timeout-ms", String(TEST_MS / 3)], TEST_MS / 3, env);
  try {
    const url = `${cluster.url.replace("http", "ws")}/ws`;
    const clients: Client[] = [];
    // Opened in groups, as many clients at once would only queue in the listen backlog.
    for (let i = 0; i < SOCKETS; i += 100) {
      const group = Array.from({ length: 100 }, (_, j) => new Client(`${url}/m${(i + j) % OBJECTS}`));
      await Promise.all(group.map((c) => c.opened));
      clients.push(...group);
    }
    // Every object hibernated (its instance gone, its sockets held by the runtime), as a reload finds them after idle.
    const admin = /"message":"Admin listening","url":"([^"]+)"/.exec(cluster.server.stdout())![1]!;
    for (let k = 0; k < OBJECTS; k++) {
      const res = await fetch(`${admin}/objects/COUNTER/m${k}/hibernate`, { method: "POST", headers: { "x-torpor-admin": "1" } });
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ state: "hibernated" });
    }
    const warnings: Array<Record<string, unknown>> = [];
    const warned = logLine(cluster.server, (line) => {
      if (line.level === "warn") warnings.push(line);
      return line.message === "Reloaded";
    });
    cluster.setVersion("v2");
    const status = await cluster.reload();
    expect(status.ok).toBe(true);
    const reloaded = await warned;
    // Each socket answers from the new code, with the attachment and tags it had (the attachment names v1, which accepted it).
    const answers = await Promise.all(
      clients.map(async (c, i) => {
        c.ws.send(`hello${i}`);
        return c.message(0);
      }),
    );
    answers.forEach((answer, i) => {
      const [text, version, , since, , tags] = answer.split(" ");
      expect({ text, version, since, tags }).toEqual({ text: `hello${i}`, version: "v2", since: "v1", tags: "client" });
    });
    expect(clients.filter((c) => c.closed !== null)).toEqual([]);
    expect(reloaded).toMatchObject({ socketsMoved: SOCKETS, socketsClosed: 0 });
    for (const c of clients) c.ws.terminate();
    return { reloaded, warnings };
  } finally {
    expect(await cluster.stop()).toBe(0);
  }
}

describe("a reload's move of hibernated sockets", () => {
  it("moves them in batches on the descriptor channels: each echoes from the new code with its attachment and tags", { timeout: TEST_MS }, async () => {
    // The addon must be built here (pnpm install compiles it; CI has a compiler): else this path is not tested at all.
    const addon = loadNative().fdPassing;
    expect(addon.ok ? null : addon.error.message).toBeNull();
    const { reloaded, warnings } = await reloadMovesEverySocket({});
    expect(reloaded.batched).toBe(true);
    expect(warnings).toEqual([]);
  });

  it("without the addon, moves them over Node IPC one at a time, and says so once", { timeout: TEST_MS }, async () => {
    const { reloaded, warnings } = await reloadMovesEverySocket({ TORPOR_FD_PASSING: "0" });
    expect(reloaded.batched).toBe(false);
    expect(warnings.map((w) => [w.message, w.reason])).toEqual([
      ["Reloads move sockets over Node IPC, one at a time (slower: a process round trip per socket)", "turned off by TORPOR_FD_PASSING=0"],
    ]);
  });
});
