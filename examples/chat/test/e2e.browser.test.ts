/**
 * End to end in Chromium: two people chat in one room through the real page,
 * the room is forced to hibernate, the server restarts on the same port, the
 * pages reconnect by themselves and the history is still there.
 */
import { existsSync, mkdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { removeDir, startChat, tempDir, type ChatServer } from "./helpers.ts";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const artifacts = fileURLToPath(new URL("../../../test-artifacts/", import.meta.url));

describe.skipIf(!existsSync(CHROMIUM))("chat in a browser", () => {
  let browser: Browser;
  let server: ChatServer;
  let dir: string;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    dir = tempDir();
    server = await startChat(dir);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"],
    });
  });

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    if (dir) removeDir(dir);
  });

  async function openPage(name: string, { viaPrompt }: { viaPrompt: boolean }): Promise<Page> {
    const context = await browser.newContext({ viewport: { width: 1100, height: 720 } });
    if (!viaPrompt) {
      await context.addInitScript((n) => localStorage.setItem("torpor.chat.name", n), name);
    }
    const page = await context.newPage();
    // Fail fast with Playwright's message (which names the selector) rather than the test timeout.
    page.setDefaultTimeout(10_000);
    page.on("pageerror", (error) => pageErrors.push(`${name}: ${error.message}`));
    await page.goto(`${server.url}/r/e2e`);
    if (viaPrompt) {
      await page.locator("#name-dialog[open]").waitFor();
      await page.fill("#name-input", name);
      await page.press("#name-input", "Enter");
    }
    await online(page);
    return page;
  }

  const online = (page: Page) => page.locator('#conn[data-state="online"]').waitFor();
  const seen = (page: Page, text: string) => page.locator(".msg .text", { hasText: text }).waitFor();

  async function say(page: Page, text: string): Promise<void> {
    await page.fill("#input", text);
    await page.press("#input", "Enter");
  }

  it("chats, survives hibernation and a server restart", async () => {
    const ada = await openPage("Ada", { viaPrompt: false });
    const bob = await openPage("Bob", { viaPrompt: true });

    // Presence: both see both.
    await ada.locator("#members li", { hasText: "Bob" }).waitFor();
    await bob.locator("#members li", { hasText: "Ada" }).waitFor();
    expect(await bob.locator("#me").textContent()).toBe("Bob");

    await say(ada, "Hello from Ada");
    await seen(bob, "Hello from Ada");
    await say(bob, "Hi Ada, Bob here");
    await seen(ada, "Hi Ada, Bob here");

    // Typing indicator.
    await ada.fill("#input", "typing…");
    await bob.locator("#typing", { hasText: "Ada is typing" }).waitFor();
    await ada.fill("#input", "");

    // Forced hibernation: the next message wakes a fresh instance.
    const id = server.roomId("e2e");
    await server.runtime.hibernate(id);
    const asleep = server.runtime.inspect(id);
    expect(asleep.state).toBe("hibernated");
    await say(bob, "Sent to a sleeping room");
    await seen(ada, "Sent to a sleeping room");
    expect(server.runtime.inspect(id).counters.constructed).toBe(asleep.counters.constructed + 1);

    // Restart on the same port: pages see 1012, back off, reconnect, and the
    // welcome brings the history back from SQLite.
    const port = server.port;
    await server.stop();
    await ada.locator('#conn:not([data-state="online"])').waitFor();
    server = await startChat(dir, port);
    await Promise.all([online(ada), online(bob)]);
    for (const text of ["Hello from Ada", "Hi Ada, Bob here", "Sent to a sleeping room"]) {
      await seen(ada, text);
      await seen(bob, text);
    }
    await say(ada, "Back after the restart");
    await seen(bob, "Back after the restart");
    await bob.locator("#members li", { hasText: "Ada" }).waitFor();

    mkdirSync(artifacts, { recursive: true });
    await bob.screenshot({ path: `${artifacts}chat-e2e.png` });
    expect(pageErrors).toEqual([]);
  }, 60_000);
});
