import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, onTestFinished, test } from "vitest";
import { WebSocket as WsClient } from "ws";
import { DurableObject, Response, Runtime, WebSocketPair, type Logger, type WebSocket } from "@torpor/core";
import { sqliteStorage } from "../src/index.ts";

/**
 * A real full disk: a 3 MiB tmpfs, mounted when the run may mount one (root
 * with mount(8)); skipped with a message otherwise. Writes fill it until a
 * commit fails: the client gets 1011 and no ack for what is not on disk,
 * every acknowledged write is still there, and once space is freed the
 * object works again, live and after a restart.
 */

const dir = mkdtempSync(join(tmpdir(), "torpor-disk-full-"));
const mounted =
  process.platform === "linux" &&
  process.getuid?.() === 0 &&
  spawnSync("mount", ["-t", "tmpfs", "-o", "size=3m", "tmpfs", dir], { stdio: "ignore" }).status === 0;
if (!mounted) process.stderr.write(`disk-full.test.ts: skipped (mounting a small tmpfs needs root and mount(8); uid ${process.getuid?.()})\n`);

beforeAll(() => {
  // Space to give back once the disk is full.
  if (mounted) writeFileSync(join(dir, "ballast"), Buffer.alloc(512 * 1024));
});
afterAll(() => {
  if (mounted) spawnSync("umount", [dir], { stdio: "ignore" });
  rmSync(dir, { recursive: true, force: true });
});

class Filler extends DurableObject {
  override fetch(): Response {
    const [client, server] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
    this.ctx.acceptWebSocket(server);
    return new Response(null, { status: 101, webSocket: client });
  }
  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    const [op, n] = String(message).split(" ");
    if (op === "fill") {
      // Random bytes: nothing on the way to the disk makes them smaller.
      await this.ctx.storage.put(`k${n}`, randomBytes(64 * 1024));
      ws.send(`ack ${n}`);
    } else if (op === "keys") {
      ws.send(JSON.stringify([...(await this.ctx.storage.list()).keys()]));
    }
  }
}

function recording(): Logger & { codes: string[] } {
  const codes: string[] = [];
  return { codes, debug() {}, info() {}, warn() {}, error: (_m, f) => void codes.push(String((f?.error as { code?: string })?.code)) };
}

async function start() {
  const logger = recording();
  const runtime = new Runtime({ objects: { D: Filler }, storage: sqliteStorage({ dir }), logger });
  const { url } = await runtime.listen({ port: 0 });
  return { runtime, logger, url: `${url.replace("http", "ws")}/D/d` };
}

async function open(url: string) {
  const ws = new WsClient(url);
  onTestFinished(() => ws.terminate());
  const inbox: string[] = [];
  const waiting: Array<(m: string) => void> = [];
  ws.on("message", (d) => (waiting.length > 0 ? waiting.shift()!(String(d)) : inbox.push(String(d))));
  const closed = new Promise<number>((resolve) => ws.on("close", resolve));
  await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
  const next = () => (inbox.length > 0 ? Promise.resolve(inbox.shift()!) : new Promise<string>((r) => waiting.push(r)));
  return { ws, next, closed };
}

describe("a full disk", () => {
  test.skipIf(!mounted)(
    "fails the commit with 1011 and no ack; acknowledged writes stay; the object recovers once space is freed",
    { timeout: 30_000 },
    async () => {
      let { runtime, logger, url } = await start();
      const acked: string[] = [];
      const client = await open(url);
      let outcome = "";
      for (let n = 0; n < 200 && outcome === ""; n++) {
        client.ws.send(`fill ${n}`);
        outcome = await Promise.race([client.next().then((m) => (acked.push(`k${m.split(" ")[1]}`), "")), client.closed.then((code) => `closed ${code}`)]);
      }
      expect(outcome).toBe("closed 1011");
      expect(acked.length).toBeGreaterThan(0);
      expect(logger.codes).toContain("ERR_STORAGE_COMMIT_FAILED");

      // Every acknowledged write is there, live.
      const reader = await open(url);
      reader.ws.send("keys");
      expect(JSON.parse(await reader.next())).toEqual(expect.arrayContaining(acked));

      // Space comes back: the same object writes again.
      rmSync(join(dir, "ballast"));
      reader.ws.send("fill again");
      expect(await reader.next()).toBe("ack again");
      reader.ws.close();

      // And after a restart.
      await runtime.close();
      ({ runtime, url } = await start());
      onTestFinished(() => runtime.close());
      const after = await open(url);
      after.ws.send("keys");
      expect(JSON.parse(await after.next())).toEqual(expect.arrayContaining([...acked, "kagain"]));
    },
  );
});
