/**
 * Cluster mode as users run it: `torpor start --workers 2` as real processes
 * (a supervisor and two workers), real sockets, SQLite files on disk.
 */
import { readdirSync, readFileSync, readlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Client, Progress, startCluster, type Cluster } from "./cluster-helpers.ts";
import { runTorpor } from "./helpers.ts";

/** The inodes of the TCP sockets a process holds open (Linux /proc). */
function socketInodes(pid: number): Set<string> {
  const out = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m !== null) out.add(m[1]!);
    } catch {
      // Closed while listing.
    }
  }
  return out;
}

/** The inode of the server side of a loopback TCP connection (local port `serverPort`, remote `clientPort`). */
function serverSideInode(serverPort: number, clientPort: number): string {
  for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    for (const line of readFileSync(file, "utf8").split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10) continue;
      const local = Number.parseInt(f[1]!.split(":")[1]!, 16);
      const remote = Number.parseInt(f[2]!.split(":")[1]!, 16);
      if (local === serverPort && remote === clientPort) return f[9]!;
    }
  }
  throw new Error(`No TCP connection ${serverPort} <- ${clientPort}`);
}

describe("two workers", () => {
  let cluster: Cluster;
  beforeAll(async () => {
    cluster = await startCluster(2, ["--admin-port", "0"]);
  }, 60_000);
  afterAll(async () => {
    expect(await cluster.stop()).toBe(0);
  });

  it("concurrent first requests for one name through every worker construct it once", async () => {
    const results = await Promise.all(Array.from({ length: 40 }, () => cluster.rpc("once", "hello")));
    expect(results.every((r) => r.status === 200)).toBe(true);
    // Every request came through some worker, both workers took some, and all reached one instance.
    expect(new Set(results.map((r) => r.body.via)).size).toBe(2);
    expect(new Set(results.map((r) => r.body.value.pid)).size).toBe(1);
    expect(results.every((r) => r.body.value.constructions === 1)).toBe(true);
    expect((await cluster.rpc("once", "hello")).body.value.constructions).toBe(1);
  });

  it("routed RPC keeps error classes and messages, property reads and structured clone", async () => {
    // Enough names that some are owned by the worker the request did not arrive at.
    const names = Array.from({ length: 8 }, (_, i) => `e${i}`);
    const results = await Promise.all(names.flatMap((n) => [cluster.rpc(n, "fail"), cluster.rpc(n, "fail")]));
    for (const r of results) expect(r.body.error).toEqual({ class: "RangeError", message: "no such thing counter v1" });
    const routed = await Promise.all(names.map(async (n) => ({ hello: await cluster.rpc(n, "hello"), label: await cluster.rpc(n, "label") })));
    expect(routed.some((r) => r.hello.body.via !== r.hello.body.value.pid)).toBe(true);
    for (const r of routed) expect(r.label.body.value).toBe("counter v1");
    const missing = await cluster.rpc("e0", "nope");
    expect(missing.body.error).toMatchObject({ class: "TorporError", code: "ERR_NO_SUCH_METHOD" });
  });

  it("a WebSocket accepted through worker A for an object owned by B is served by B, and A holds no socket for it", async () => {
    const owner = (await cluster.rpc("room", "hello")).body.value.pid as number;
    // The supervisor alternates workers per connection: within two tries one arrives through the other worker.
    let client: Client | null = null;
    let through = 0;
    for (let i = 0; i < 4 && client === null; i++) {
      const c = new Client(`${cluster.url.replace("http", "ws")}/ws/room`);
      await c.opened;
      c.ws.send("hello");
      const [, version, pid, since, via, tags] = (await c.message(0)).split(" ");
      expect([version, Number(pid), since, tags]).toEqual(["v1", owner, "v1", "client"]);
      if (Number(via) !== owner) {
        client = c;
        through = Number(via);
      } else c.ws.close();
    }
    expect(client).not.toBeNull();

    const port = Number(new URL(cluster.url).port);
    const inode = serverSideInode(port, (client!.ws as unknown as { _socket: { localPort: number } })._socket.localPort);
    expect(socketInodes(owner).has(inode)).toBe(true);
    expect(socketInodes(through).has(inode)).toBe(false);
    expect(socketInodes(cluster.server.child.pid!).has(inode)).toBe(false);
    client!.ws.close(1000);
    expect((await client!.done).code).toBe(1000);
  });

  it("the admin endpoint covers every worker, with per-worker metric labels", async () => {
    const admin = /"message":"Admin listening","url":"([^"]+)"/.exec(cluster.server.stdout())![1]!;
    const metrics = await (await fetch(`${admin}/metrics`)).text();
    expect(metrics).toMatch(/^torpor_events_total\{type="rpc",worker="0"\} \d+$/m);
    expect(metrics).toMatch(/^torpor_events_total\{type="rpc",worker="1"\} \d+$/m);
    expect(metrics.match(/^# TYPE torpor_events_total counter$/gm)).toHaveLength(1);
    const objects = (await (await fetch(`${admin}/objects`)).json()) as Array<{ name: string; worker: number }>;
    const once = objects.filter((o) => o.name === "once");
    expect(once).toHaveLength(1);
    const hibernated = await fetch(`${admin}/objects/COUNTER/once/hibernate`, { method: "POST", headers: { "x-torpor-admin": "1" } });
    expect(hibernated.status).toBe(200);
    expect(await hibernated.json()).toMatchObject({ name: "once", state: "hibernated" });
  });

  it("torpor reload: new code that fails to load leaves the old workers serving and reports the error; good code then reloads", async () => {
    writeFileSync(join(cluster.dir, "worker.js"), `throw new Error("broken build");\n`);
    const failed = await runTorpor(["reload", "--persist-to", join(cluster.dir, "data")], cluster.dir);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(/^torpor: Reload failed, the old workers keep serving: Loading the Worker entry .*worker\.js failed: Error: broken build/);
    expect((await cluster.rpc("after-failed-reload", "label")).body.value).toBe("counter v1");

    cluster.setVersion("v2");
    const reloaded = await runTorpor(["reload", "--persist-to", join(cluster.dir, "data")], cluster.dir);
    expect(reloaded.stderr).toBe("");
    expect(reloaded.code).toBe(0);
    expect(reloaded.stdout).toMatch(/^Reloaded \(supervisor pid \d+\)$/m);
    expect((await cluster.rpc("after-failed-reload", "label")).body.value).toBe("counter v2");
    // The object that counted its constructions was constructed once before; after the move it is constructed again, by its new owner only.
    expect((await cluster.rpc("once", "hello")).body.value.constructions).toBe(2);
  }, 120_000);
});

describe("a worker killed under write load", () => {
  it("comes back with its objects; no acknowledged write is lost; its WebSocket clients see 1006 and reconnect", async () => {
    const cluster = await startCluster(2);
    try {
      const names = Array.from({ length: 6 }, (_, i) => `k${i}`);
      const owners = new Map<string, number>();
      for (const name of names) owners.set(name, (await cluster.rpc(name, "hello")).body.value.pid);
      const victim = owners.get("k0")!;
      const ws = `${cluster.url.replace("http", "ws")}/ws/k0`;
      const client = new Client(ws);
      await client.opened;
      client.ws.send("before");
      expect((await client.message(0)).split(" ")[2]).toBe(String(victim));

      const progress = new Progress();
      const acked = new Map(names.map((n) => [n, new Set<string>()]));
      let total = 0;
      let byReplacement = 0;
      let stop = false;
      let seq = 0;
      const load = async (name: string) => {
        while (!stop) {
          const id = String(seq++);
          try {
            const r = await cluster.rpc(name, "write", id);
            if (r.status !== 200) continue;
            acked.get(name)!.add(id);
            total++;
            if (owners.get(name) === victim && r.body.value !== victim) byReplacement++;
            progress.notify();
          } catch {
            // The connection went to the worker that died: not acknowledged, so not counted.
          }
        }
      };
      const loops = [...names, ...names].map(load);
      await progress.until(() => total >= 60);
      process.kill(victim, "SIGKILL");
      expect((await client.done).code).toBe(1006);

      const again = new Client(ws);
      await again.opened;
      again.ws.send("after");
      const pid = Number((await again.message(0)).split(" ")[2]);
      expect(pid).not.toBe(victim);
      await progress.until(() => byReplacement >= 30);
      stop = true;
      await Promise.all(loops);
      again.ws.close();

      for (const name of names) {
        const stored = new Set((await cluster.rpc(name, "writes")).body.value as string[]);
        const lost = [...acked.get(name)!].filter((id) => !stored.has(id));
        expect(lost, `acknowledged writes missing from ${name}`).toEqual([]);
      }
      expect(cluster.server.stdout()).toContain('"message":"Worker restarted"');
    } finally {
      expect(await cluster.stop()).toBe(0);
    }
  }, 60_000);
});

/** The reload test's budget: at load 40 on two cores it took over three minutes (about 20 s on an idle machine). */
const RELOAD_TEST_MS = 480_000;

describe("reload", () => {
  it("moves 1,000 hibernatable sockets over 100 objects to new code under traffic: no close, nothing lost or out of order; alarms set before fire once", {
    timeout: RELOAD_TEST_MS,
  }, async () => {
    // The default move bound (30 s, for objects or clients that hold a move back) is not what this test checks, and at
    // load 34 moving 500 sockets per worker took 30.7 s, so the old workers were killed and 197 sockets closed with 1006:
    // the bound here is well inside the test's own. Starting also gets more than the usual minute (47 s at load 25).
    const cluster = await startCluster(2, ["--move-timeout-ms", String(RELOAD_TEST_MS / 3)], RELOAD_TEST_MS / 3);
    try {
      const progress = new Progress();
      const url = `${cluster.url.replace("http", "ws")}/ws`;
      let stopping = false;
      const clients = Array.from({ length: 1_000 }, (_, i) => {
        const state = { client: new Client(`${url}/r${i % 100}`), sent: 0, received: 0, disorder: 0, lastVersion: "", versions: new Set<string>() };
        state.client.ws.on("message", (data) => {
          const [seq, version] = data.toString().split(" ");
          if (Number(seq) !== state.received) state.disorder++;
          state.received++;
          state.lastVersion = version!;
          state.versions.add(version!);
          // Ping-pong: each socket keeps one message in flight, all the time.
          if (!stopping) state.client.ws.send(String(state.sent++));
          progress.notify();
        });
        state.client.ws.on("close", () => progress.notify());
        return state;
      });
      await Promise.all(clients.map((c) => c.client.opened));
      for (const c of clients) c.client.ws.send(String(c.sent++));
      await progress.until(() => clients.every((c) => c.received >= 3));

      // Alarms every 500 ms for a minute, then every 10 s until this test's own deadline, set before the reload: some
      // fall before or during the move, some after it, however long a loaded machine takes (a CI run under load once
      // took over a minute to reload, and a run at load 40 over three minutes for the whole test). So "the reload
      // outlasted every alarm" can only happen in a run that times out anyway. Only the alarms up to the first one after
      // the move are waited for.
      const start = Date.now();
      const dense = Array.from({ length: 120 }, (_, k) => start + 500 + 500 * k);
      const sparse = Array.from({ length: Math.floor((RELOAD_TEST_MS - 70_000) / 10_000) }, (_, k) => start + 70_000 + 10_000 * k);
      const alarms = [...dense, ...sparse].map((at, k) => ({ name: `alarm${k}`, at }));
      await Promise.all(alarms.map((a) => cluster.rpc(a.name, "arm", a.at)));
      cluster.setVersion("v2");
      const status = await cluster.reload();
      expect(status.ok).toBe(true);
      await progress.until(() => clients.every((c) => c.lastVersion === "v2" || c.client.closed !== null));
      stopping = true;
      await progress.until(() => clients.every((c) => c.received === c.sent || c.client.closed !== null));

      expect(clients.filter((c) => c.client.closed !== null).map((c) => c.client.closed)).toEqual([]);
      expect(clients.reduce((n, c) => n + c.disorder, 0)).toBe(0);
      expect(clients.reduce((n, c) => n + (c.sent - c.received), 0)).toBe(0);
      expect(clients.every((c) => c.versions.has("v1") && c.lastVersion === "v2")).toBe(true);
      // The attachment moved with the socket (it says which version accepted it).
      expect(clients[0]!.client.messages.at(-1)!.split(" ")[3]).toBe("v1");
      for (const c of clients) c.client.ws.close();

      // Every alarm due by the first one after the move fires exactly once; those due after the move, in the new code.
      const after = alarms.findIndex((a) => a.at > status.at);
      expect(after, "the reload outlasted every alarm").toBeGreaterThan(0);
      // Each alarm is polled on its own (one after another, 120 round trips took half a minute at load 40).
      const fired = await Promise.all(
        alarms.slice(0, after + 1).map(async (a) => {
          let list: Array<{ version: string; at: number }>;
          // Waits for the alarm's own time, then for the owner to run it.
          while ((list = (await cluster.rpc(a.name, "fired")).body.value).length === 0)
            await new Promise((r) => setTimeout(r, Math.max(50, a.at - Date.now())));
          return { a, list };
        }),
      );
      for (const { a, list } of fired) {
        expect(list, a.name).toHaveLength(1);
        if (a.at > status.at) expect(list[0]!.version, a.name).toBe("v2");
      }
    } finally {
      expect(await cluster.stop()).toBe(0);
    }
  });
});
