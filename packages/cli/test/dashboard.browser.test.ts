/**
 * The admin dashboard in real Chromium (Debian's, through playwright-core,
 * as the chat e2e runs) against `torpor start --workers 2` with an admin
 * token: the page asks for the token, lists the object with its socket and
 * tag, shows it going from live to hibernated when its Hibernate button is
 * pressed and back to live (one wake) when the client sends a message, and
 * draws its chart. It saves a screenshot (test-artifacts/dashboard.png; with
 * TORPOR_UPDATE_SCREENSHOTS=1 also docs/images/dashboard.png, which the
 * README shows).
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium, type Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { startTorpor, type Server } from "./helpers.ts";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const artifacts = fileURLToPath(new URL("../../../test-artifacts/", import.meta.url));
const docsImage = fileURLToPath(new URL("../../../docs/images/dashboard.png", import.meta.url));
const TOKEN = "dash-token";

const WORKER = `
import { DurableObject } from "cloudflare:workers";
export class Room extends DurableObject {
  async fetch(request) {
    const [client, server] = Object.values(new WebSocketPair());
    this.ctx.acceptWebSocket(server, ["player", new URL(request.url).searchParams.get("team") ?? "red"]);
    await this.ctx.storage.put("joined", ((await this.ctx.storage.get("joined")) ?? 0) + 1);
    return new Response(null, { status: 101, webSocket: client });
  }
  async webSocketMessage(ws, message) {
    await this.ctx.storage.put("last", String(message));
    ws.send("echo " + message);
  }
  async arm() {
    await this.ctx.storage.setAlarm(Date.now() + 3_600_000);
  }
  alarm() {}
}
export default {
  async fetch(request, env) {
    const [, kind, name] = new URL(request.url).pathname.split("/");
    const stub = env.ROOMS.getByName(name);
    if (kind === "arm") {
      await stub.arm();
      return new Response("armed");
    }
    return stub.fetch(request);
  },
};
`;
const CONFIG = JSON.stringify({ main: "worker.js", compatibility_date: "2025-06-01", durable_objects: { bindings: [{ name: "ROOMS", class_name: "Room" }] } });

describe.skipIf(!existsSync(CHROMIUM))("the admin dashboard in a browser", () => {
  let browser: Browser;
  let server: Server;
  let admin: string;
  let dir: string;
  const sockets: WebSocket[] = [];
  const pageErrors: string[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "torpor-dashboard-"));
    writeFileSync(join(dir, "wrangler.json"), CONFIG);
    writeFileSync(join(dir, "worker.js"), WORKER);
    server = await startTorpor(["start", "--workers", "2", "--port", "0", "--admin-port", "0", "--persist-to", join(dir, "data")], dir, 40_000, {
      TORPOR_ADMIN_TOKEN: TOKEN,
    });
    // The admin line follows the listening line in the same write or the next one.
    const deadline = Date.now() + 10_000;
    while (!/"message":"Admin listening"/.test(server.stdout()) && Date.now() < deadline)
      await new Promise((resolve) => server.child.stdout!.once("data", resolve));
    admin = /"message":"Admin listening","url":"([^"]+)"/.exec(server.stdout())![1]!;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"],
    });
    mkdirSync(artifacts, { recursive: true });
  }, 60_000);

  afterAll(async () => {
    for (const ws of sockets) ws.terminate();
    await browser?.close();
    if (server !== undefined && server.child.exitCode === null) expect(await server.stop()).toBe(0);
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    expect(pageErrors).toEqual([]);
  });

  const connect = async (room: string, team: string) => {
    const ws = new WebSocket(`${server.url.replace("http", "ws")}/ws/${room}?team=${team}`);
    sockets.push(ws);
    await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
    return ws;
  };

  it("shows an object going from live to hibernated (from its button) and back when a client sends a message", { timeout: 90_000 }, async () => {
    const lobby = await connect("lobby", "red");
    await connect("lobby", "blue");
    await connect("kitchen", "red");
    expect((await fetch(`${server.url}/arm/kitchen`)).status).toBe(200);

    const context = await browser.newContext({ viewport: { width: 1200, height: 760 } });
    const page = await context.newPage();
    page.setDefaultTimeout(15_000);
    page.on("pageerror", (error) => pageErrors.push(error.message));
    await page.goto(`${admin}/dashboard`);
    // The endpoint has a token: the page's data request is refused until it is given.
    await page.locator("#token-form:not([hidden])").waitFor();
    await page.fill("#token", TOKEN);
    await page.press("#token", "Enter");

    const row = page.locator('tr[data-object="ROOMS/lobby"]');
    await page.locator('tr[data-object="ROOMS/lobby"][data-state="live"]').waitFor();
    expect(await row.locator("td.sockets").textContent()).toBe("2");
    expect(await row.locator(".tag").allTextContents()).toEqual(expect.arrayContaining(["player ×2", "red", "blue"]));
    await expect.poll(() => page.locator('tr[data-object="ROOMS/kitchen"] td.alarm').textContent()).not.toBe("");

    await row.getByRole("button", { name: "Hibernate" }).click();
    await page.locator('tr[data-object="ROOMS/lobby"][data-state="hibernated"]').waitFor();
    expect(await row.locator("td.sockets").textContent()).toBe("2");
    expect(await row.locator("td.evictions").textContent()).toBe("1");

    // A message wakes it: a new instance runs the handler, the sockets never closed.
    const echoed = new Promise<string>((resolve) => lobby.once("message", (m) => resolve(String(m))));
    lobby.send("hello");
    expect(await echoed).toBe("echo hello");
    await page.locator('tr[data-object="ROOMS/lobby"][data-state="live"]').waitFor();
    expect(await row.locator("td.wakes").textContent()).toBe("1");
    expect(await row.locator("td.last").textContent()).toMatch(/^webSocketMessage · \d+ s ago$/);

    await expect.poll(async () => Number(await page.locator("#chart").getAttribute("data-points")), { timeout: 15_000 }).toBeGreaterThanOrEqual(3);
    await page.screenshot({ path: `${artifacts}dashboard.png` });
    if (process.env.TORPOR_UPDATE_SCREENSHOTS === "1") {
      mkdirSync(join(docsImage, ".."), { recursive: true });
      copyFileSync(`${artifacts}dashboard.png`, docsImage);
    }
    await context.close();
  });
});
