/**
 * torpor backup / torpor restore with real processes: an online backup of a
 * two-worker cluster under write load holds every write acknowledged before
 * it began and no half batch, and the restored directory arms the alarms
 * again; restore refuses a directory in use or one that holds objects; a
 * directory nobody serves is backed up offline.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterEach, expect, it } from "vitest";
import { project, runTorpor, startTorpor, type Server } from "./helpers.ts";

const servers: Server[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) if (s.child.exitCode === null) s.child.kill("SIGKILL");
});

// Each write is one batch of three keys (no await between the puts): a copy holding half a batch would show.
const WORKER = `
import { DurableObject } from "cloudflare:workers";
export class Ledger extends DurableObject {
  write(seq) {
    this.ctx.storage.put({ ["a:" + seq]: seq, ["b:" + seq]: seq, count: seq });
    return seq;
  }
  async state() {
    const all = await this.ctx.storage.list();
    const keys = [...all.keys()];
    return { count: all.get("count") ?? 0, a: keys.filter((k) => k.startsWith("a:")).length, b: keys.filter((k) => k.startsWith("b:")).length, alarm: await this.ctx.storage.getAlarm() };
  }
  async arm(at) {
    await this.ctx.storage.setAlarm(at);
    return at;
  }
  alarm() {}
}
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const stub = env.LEDGER.getByName(url.searchParams.get("o"));
    return Response.json(await stub[url.pathname.slice(1)](Number(url.searchParams.get("v") ?? 0)));
  },
};
`;
const CONFIG = JSON.stringify({
  main: "worker.js",
  compatibility_date: "2025-06-01",
  durable_objects: { bindings: [{ name: "LEDGER", class_name: "Ledger" }] },
});

const call = async (url: string, method: string, object: string, value = 0) => {
  const response = await fetch(`${url}/${method}?o=${object}&v=${value}`);
  if (response.status !== 200) throw new Error(`${method} ${object}: ${response.status} ${await response.text()}`);
  return response.json() as Promise<unknown>;
};

it("an online backup of a 2-worker cluster under write load: every acknowledged write in, no torn object, alarms armed again; restore refuses a directory in use", {
  timeout: 180000,
}, async () => {
  const dir = project({ "wrangler.json": CONFIG, "worker.js": WORKER });
  const data = join(dir, "data");
  const server = await startTorpor(["start", "--workers", "2", "--port", "0", "--persist-to", data], dir, 30_000);
  servers.push(server);
  const objects = Array.from({ length: 12 }, (_, i) => `ledger-${i}`);
  const alarmAt = Date.now() + 3_600_000;
  for (const o of objects.slice(0, 5)) await call(server.url, "arm", o, alarmAt);

  // One writer per object, each write acknowledged (its response) before the next.
  const acked = new Map(objects.map((o) => [o, 0]));
  let writing = true;
  const writers = objects.map(async (o) => {
    for (let seq = 1; writing; seq++) {
      await call(server.url, "write", o, seq);
      acked.set(o, seq);
    }
  });
  await expect.poll(() => Math.min(...acked.values()), { timeout: 20_000 }).toBeGreaterThanOrEqual(5);

  const ackedBefore = new Map(acked);
  const backup = await runTorpor(["backup", "--persist-to", data, "--out", join(dir, "copy.tar")], dir);
  const ackedAfter = [...acked.values()].reduce((a, b) => a + b, 0) - [...ackedBefore.values()].reduce((a, b) => a + b, 0);
  writing = false;
  await Promise.all(writers);
  expect(backup.stderr).toBe("");
  expect(backup.stdout).toMatch(/^Backed up 12 objects \(\d+ bytes, online\) to .*copy\.tar$/m);
  expect(backup.code).toBe(0);
  // The server kept taking writes while it copied.
  expect(ackedAfter).toBeGreaterThan(0);

  const inUse = await runTorpor(["restore", join(dir, "copy.tar"), "--persist-to", data], dir);
  expect(inUse.code).toBe(1);
  expect(inUse.stderr).toMatch(/^torpor: Refusing to restore into a data directory in use: The data directory is locked by pid \d+/m);
  expect(await server.stop()).toBe(0);

  const restoredDir = join(dir, "restored");
  const restore = await runTorpor(["restore", join(dir, "copy.tar"), "--persist-to", restoredDir], dir);
  expect(restore.stderr).toBe("");
  expect(restore.stdout).toMatch(/^Restored 12 objects \(5 alarms armed\) from .*copy\.tar/m);
  const again = await runTorpor(["restore", join(dir, "copy.tar"), "--persist-to", restoredDir], dir);
  expect(again.code).toBe(1);
  expect(again.stderr).toMatch(/^torpor: .*restored\/do already holds objects; restore into an empty --persist-to/m);

  const restored = await startTorpor(["start", "--workers", "1", "--port", "0", "--admin-port", "0", "--persist-to", restoredDir], dir, 30_000);
  servers.push(restored);
  // Before any request: the objects with alarms are already scheduled (from the rebuilt alarm index).
  await expect.poll(() => /"message":"Admin listening","url":"([^"]+)"/.exec(restored.stdout())?.[1]).toBeDefined();
  const admin = /"message":"Admin listening","url":"([^"]+)"/.exec(restored.stdout())![1]!;
  const scheduled = (await (await fetch(`${admin}/objects`)).json()) as Array<{ name: string }>;
  expect(scheduled.map((o) => o.name).sort()).toEqual(objects.slice(0, 5).sort());
  for (const o of objects) {
    const state = (await call(restored.url, "state", o)) as { count: number; a: number; b: number; alarm: number | null };
    expect(state.count, o).toBeGreaterThanOrEqual(ackedBefore.get(o)!);
    expect([state.a, state.b], `${o} holds whole batches only`).toEqual([state.count, state.count]);
    expect(state.alarm).toBe(objects.indexOf(o) < 5 ? alarmAt : null);
  }
  expect(await restored.stop()).toBe(0);
});

it("a directory nobody serves is backed up offline; a backup file that is not one is refused before anything is written", { timeout: 180000 }, async () => {
  const dir = project({ "wrangler.json": CONFIG, "worker.js": WORKER, "junk.tar": "not a tar archive at all".repeat(40) });
  const data = join(dir, "data");
  const server = await startTorpor(["start", "--workers", "1", "--port", "0", "--persist-to", data], dir, 30_000);
  servers.push(server);
  for (let seq = 1; seq <= 3; seq++) await call(server.url, "write", "solo", seq);
  expect(await server.stop()).toBe(0);

  const backup = await runTorpor(["backup", "--persist-to", data, "--out", join(dir, "offline.tar")], dir);
  expect(backup.stdout).toMatch(/^Backed up 1 objects \(\d+ bytes, offline\)/m);
  const restore = await runTorpor(["restore", join(dir, "offline.tar"), "--persist-to", join(dir, "r")], dir);
  expect(restore.stdout).toMatch(/^Restored 1 objects \(0 alarms armed\)/m);

  const junk = await runTorpor(["restore", join(dir, "junk.tar"), "--persist-to", join(dir, "j")], dir);
  expect(junk.code).toBe(1);
  expect(junk.stderr).toMatch(/^torpor: .*junk\.tar is not a usable Torpor backup: an entry header's checksum does not match\.$/m);
  expect(existsSync(join(dir, "j", "do"))).toBe(false);
});
