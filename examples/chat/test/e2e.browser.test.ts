/**
 * End to end in Chromium, against the chat in dev mode (test/helpers.ts):
 * two people chat in one room through the real page, one renames, the room
 * is hibernated from the page's button and woken by a message, the server
 * restarts on the same port, the pages reconnect by themselves and the
 * history is still there. Separately: the rate limit with typing indicators,
 * an over-long paste, and the layout at phone width.
 */
import { existsSync, mkdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LIMITS } from "../src/protocol.ts";
import { removeDir, startChat, tempDir, type ChatServer } from "./helpers.ts";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const artifacts = fileURLToPath(new URL("../../../test-artifacts/", import.meta.url));
const DESKTOP = { width: 1100, height: 720 };
const PHONE = { width: 390, height: 780 };

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
    mkdirSync(artifacts, { recursive: true });
  });

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    if (dir) removeDir(dir);
    expect(pageErrors).toEqual([]);
  });

  async function openPage(name: string, room: string, options: { viaPrompt?: boolean; viewport?: typeof DESKTOP } = {}): Promise<Page> {
    const context = await browser.newContext({ viewport: options.viewport ?? DESKTOP });
    if (options.viaPrompt !== true) {
      await context.addInitScript((n) => localStorage.setItem("torpor.chat.name", n), name);
    }
    const page = await context.newPage();
    // Fail fast with Playwright's message (which names the selector) rather than the test timeout.
    page.setDefaultTimeout(10_000);
    page.on("pageerror", (error) => pageErrors.push(`${name}: ${error.message}`));
    await page.goto(`${server.url}/r/${room}`);
    if (options.viaPrompt === true) {
      await page.locator("#name-dialog[open]").waitFor();
      await page.fill("#name-input", name);
      await page.press("#name-input", "Enter");
    }
    await online(page);
    return page;
  }

  const online = (page: Page) => page.locator('#conn[data-state="online"]').waitFor();
  const seen = (page: Page, text: string) => page.locator(".msg .text", { hasText: text }).waitFor();
  const objectBadge = (page: Page, state: string) => page.locator(`#object-state[data-state="${state}"]`).waitFor();
  const counts = async (page: Page) => {
    const text = (await page.locator("#object-counts").textContent()) ?? "";
    const m = /constructed (\d+) · woken (\d+)/.exec(text);
    if (!m) throw new Error(`unexpected counts text ${JSON.stringify(text)}`);
    return { constructed: Number(m[1]), woken: Number(m[2]) };
  };

  async function say(page: Page, text: string): Promise<void> {
    await page.fill("#input", text);
    await page.press("#input", "Enter");
  }

  it("chats, renames, hibernates from the page, and survives a server restart", async () => {
    const ada = await openPage("Ada", "e2e");
    const bob = await openPage("Bob", "e2e", { viaPrompt: true });

    // Presence: both see both.
    await ada.locator("#members li", { hasText: "Bob" }).waitFor();
    await bob.locator("#members li", { hasText: "Ada" }).waitFor();
    expect(await bob.locator("#me").textContent()).toBe("Bob");

    await say(ada, "Hello from Ada");
    await seen(bob, "Hello from Ada");
    await say(bob, "Hi Ada, Bob here");
    await seen(ada, "Hi Ada, Bob here");
    // The sender's box is emptied once the room has the message.
    expect(await ada.inputValue("#input")).toBe("");

    // Typing indicator.
    await ada.fill("#input", "typing…");
    await bob.locator("#typing", { hasText: "Ada is typing" }).waitFor();
    await ada.fill("#input", "");

    // Rename: the page reconnects under the new name; Bob's member list follows.
    await ada.click("#me");
    await ada.locator("#name-dialog[open]").waitFor();
    await ada.fill("#name-input", "Ada Lovelace");
    await ada.press("#name-input", "Enter");
    await bob.locator("#members li .member-name", { hasText: "Ada Lovelace" }).waitFor();
    await bob.locator(".system", { hasText: "Ada is now Ada Lovelace" }).waitFor();
    expect(await bob.locator("#members li .member-name").allTextContents()).toEqual(["Ada Lovelace", "Bob"]);
    await online(ada);

    // The room object's badge (dev mode): live, then hibernated from the button, then woken by a message.
    const id = server.roomId("e2e");
    await objectBadge(ada, "live");
    const before = await counts(ada);
    expect(before.constructed).toBe(server.runtime.inspect(id).counters.constructed);
    await ada.click("#hibernate-now");
    await objectBadge(ada, "hibernated");
    expect(server.runtime.inspect(id).state).toBe("hibernated");
    await objectBadge(bob, "hibernated"); // Bob's page sees it too, by polling.
    await say(bob, "Sent to a sleeping room");
    await seen(ada, "Sent to a sleeping room");
    await objectBadge(ada, "live");
    await ada.waitForFunction((woken) => document.querySelector("#object-counts")?.textContent?.includes(`woken ${woken}`), before.woken + 1);
    expect(await counts(ada)).toEqual({ constructed: before.constructed + 1, woken: before.woken + 1 });
    expect(server.runtime.inspect(id).counters).toMatchObject({ constructed: before.constructed + 1, woken: before.woken + 1 });
    await ada.screenshot({ path: `${artifacts}chat-desktop.png` });

    // Restart on the same port: pages see 1012 and say "Server restarting" through every failed
    // attempt until they are back in; presence dots go grey meanwhile.
    const port = server.port;
    await server.stop();
    await ada.waitForFunction(() => Number(document.querySelector<HTMLElement>("#conn")?.dataset.attempt) >= 3, undefined, { timeout: 20_000 });
    expect(await ada.locator("#conn-text").textContent()).toMatch(/^Server restarting, retrying in \d+ s$/);
    const dot = await ada
      .locator("#members .avatar")
      .first()
      .evaluate((el) => getComputedStyle(el, "::after").backgroundColor);
    const okColor = await ada.evaluate(() => getComputedStyle(document.documentElement).getPropertyValue("--ok").trim());
    expect(dot).not.toBe(okColor);
    expect(dot).not.toBe("rgb(24, 160, 88)");
    server = await startChat(dir, port);
    await Promise.all([online(ada), online(bob)]);
    for (const text of ["Hello from Ada", "Hi Ada, Bob here", "Sent to a sleeping room"]) {
      await seen(ada, text);
      await seen(bob, text);
    }
    await say(ada, "Back after the restart");
    await seen(bob, "Back after the restart");
    await bob.locator("#members li", { hasText: "Ada Lovelace" }).waitFor();
    await bob.screenshot({ path: `${artifacts}chat-e2e.png` });
  }, 90_000);

  it("does not count typing toward the rate limit; a rejected message stays in the box with one toast", async () => {
    const cy = await openPage("Cy", "e2e-rate");
    // Typed and sent in the page itself, one after another as fast as the room answers, so the
    // 5 s window holds on a slow machine. Each input event sends a typing indicator first (they
    // counted, so the 6th message was refused).
    await cy.evaluate(async (count) => {
      const input = document.querySelector<HTMLTextAreaElement>("#input")!;
      const form = document.querySelector<HTMLFormElement>("#composer")!;
      for (let i = 1; i <= count; i++) {
        input.value = `quick ${i}`;
        input.dispatchEvent(new Event("input", { bubbles: true }));
        form.requestSubmit();
        // The box empties when the room has echoed the message back.
        const deadline = Date.now() + 5_000;
        while (input.value !== "") {
          if (Date.now() > deadline) throw new Error(`message ${i} was not posted: ${document.querySelector(".toast")?.textContent ?? "no toast"}`);
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
      }
    }, LIMITS.rateCount);
    for (let i = 1; i <= LIMITS.rateCount; i++) await cy.locator(".msg .text", { hasText: new RegExp(`^quick ${i}$`) }).waitFor();
    await cy.fill("#input", "one too many");
    await cy.press("#input", "Enter");
    await cy.locator('.toast[data-code="rate_limited"]').waitFor();
    expect(await cy.locator(".toast").count()).toBe(1);
    expect(await cy.inputValue("#input")).toBe("one too many");
    expect(await cy.locator(".msg .text", { hasText: "one too many" }).count()).toBe(0);
  }, 60_000);

  it("keeps an over-long paste whole and refuses to send it, visibly", async () => {
    const dee = await openPage("Dee", "e2e-long");
    const long = "x".repeat(LIMITS.maxTextLength + 345);
    await dee.locator("#input").focus();
    // Inserted as a paste inserts it (a maxlength on the box would cut it here).
    await dee.keyboard.insertText(long);
    expect((await dee.inputValue("#input")).length).toBe(long.length);
    await dee.locator("#too-long", { hasText: "Too long to send: 2,345 characters, the limit is 2,000" }).waitFor();
    expect(await dee.locator("#send").isDisabled()).toBe(true);
    await dee.press("#input", "Enter");
    expect(await dee.inputValue("#input")).toBe(long);
  }, 60_000);

  it("fits a 390 px screen: the room name and the connection status stay readable", async () => {
    const eve = await openPage("Evelyn Hargreaves", "a-rather-long-room-name", { viewport: PHONE });
    const title = await eve.locator(".room-title").evaluate((el) => ({ scroll: el.scrollWidth, client: el.clientWidth }));
    expect(title.scroll).toBeLessThanOrEqual(title.client);
    expect(await eve.locator("#conn-text").isVisible()).toBe(true);
    expect(await eve.locator("#conn-text").textContent()).toBe("Connected");
    await objectBadge(eve, "live");
    expect(await eve.locator("#hibernate-now").isVisible()).toBe(true);
    const overflow = await eve.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow).toBe(0);
    await eve.screenshot({ path: `${artifacts}chat-390px.png` });
  }, 60_000);
});
