/**
 * y-partyserver + yjs on `torpor dev` and on workerd: two providers converge
 * on one document; a third joins after the object was forced to hibernate
 * and receives the whole document; after torpor restarts, a fresh provider
 * gets the document back from the object's storage.
 */
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, onTestFinished, test, vi } from "vitest";
import WebSocket from "ws";
import YProvider from "y-partyserver/provider";
import * as Y from "yjs";
import { TorporApp, startWorkerd, type AppTarget } from "../../shared/targets.ts";

const appDir = fileURLToPath(new URL("..", import.meta.url));
const running: Array<{ stop(): Promise<void> | void }> = [];

afterEach(async () => {
  for (const item of running.splice(0).reverse()) await item.stop();
});

interface Peer {
  doc: Y.Doc;
  provider: YProvider;
  text(): string;
  /** Resolves with the next "saved" custom message whose text equals `text`. */
  saved(text: string): Promise<void>;
}

async function join(target: AppTarget, room: string): Promise<Peer> {
  const doc = new Y.Doc();
  const provider = new YProvider(target.host, room, doc, { party: "document", WebSocketPolyfill: WebSocket as never, disableBc: true });
  const saves: string[] = [];
  const waiters: Array<{ text: string; resolve: () => void }> = [];
  provider.on("custom-message", (message: string) => {
    const { saved } = JSON.parse(message) as { saved: string };
    saves.push(saved);
    for (const w of waiters.filter((w) => w.text === saved)) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve();
    }
  });
  running.push({ stop: () => provider.destroy() });
  if (!provider.synced) await new Promise<void>((resolve) => provider.once("synced", () => resolve()));
  return {
    doc,
    provider,
    text: () => doc.getText("body").toString(),
    saved: (text) => (saves.includes(text) ? Promise.resolve() : new Promise((resolve) => waiters.push({ text, resolve }))),
  };
}

/** Two peers edit concurrently and converge; resolves once the server saved the merged text. */
async function twoPeersConverge(target: AppTarget, room: string): Promise<{ a: Peer; b: Peer; text: string }> {
  const a = await join(target, room);
  const b = await join(target, room);
  a.doc.getText("body").insert(0, "hello ");
  b.doc.getText("body").insert(0, "world");
  await vi.waitFor(() => {
    expect(a.text()).toHaveLength(11);
    expect(b.text()).toBe(a.text());
  });
  const text = a.text();
  // Both edits survive the merge, in an order Yjs picks by client id.
  expect(["hello world", "worldhello "]).toContain(text);
  await a.saved(text);
  return { a, b, text };
}

describe("y-partyserver document", () => {
  test("on torpor dev: convergence, a late joiner after forced hibernation, and the document after a restart", async () => {
    const app = await TorporApp.start(appDir);
    running.push(app);
    onTestFinished(() => expect(app.stderr(), "torpor logged a warning or an error").not.toMatch(/\] (warn|error):/));
    const { a, text } = await twoPeersConverge(app, "notes");

    await app.hibernate("Document", "notes");
    expect(await app.object("Document", "notes")).toMatchObject({ state: "hibernated", sockets: 2 });

    const c = await join(app, "notes");
    await vi.waitFor(() => expect(c.text()).toBe(text));
    expect(await app.object("Document", "notes")).toMatchObject({ state: "live", sockets: 3, woken: 1 });

    // An edit after the wake still reaches the older peers.
    c.doc.getText("body").insert(c.text().length, "!");
    await vi.waitFor(() => expect(a.text()).toBe(`${text}!`));
    await c.saved(`${text}!`);

    // Stop every peer (so none can send the document back), restart, and join with an empty doc.
    for (const item of running.splice(1).reverse()) await item.stop();
    await app.restart();
    const d = await join(app, "notes");
    await vi.waitFor(() => expect(d.text()).toBe(`${text}!`));
  });

  test("on workerd (miniflare): convergence and a late joiner", async () => {
    const workerd = await startWorkerd(appDir);
    running.push(workerd);
    const { text } = await twoPeersConverge(workerd, "notes");
    const c = await join(workerd, "notes");
    await vi.waitFor(() => expect(c.text()).toBe(text));
  });
});
