/**
 * partyserver's chat on `torpor dev` and on workerd: three partysocket
 * clients, broadcast, and (Torpor, where hibernation can be forced) messages
 * and per-connection state after the object hibernated and woke.
 */
import { fileURLToPath } from "node:url";
import { PartySocket } from "partysocket";
import { afterEach, describe, expect, onTestFinished, test } from "vitest";
import WebSocket from "ws";
import { TorporApp, startWorkerd, type AppTarget } from "../../shared/targets.ts";

const appDir = fileURLToPath(new URL("..", import.meta.url));
const running: Array<{ stop(): Promise<void> | void }> = [];

afterEach(async () => {
  for (const item of running.splice(0).reverse()) await item.stop();
});

type ChatMessage = { type: string; from?: string; sent?: number; text?: string; online?: number; id?: string; room?: string };

/** A partysocket client whose messages are awaited in order (no reconnects: a drop fails the test). */
class ChatClient {
  readonly #queue: ChatMessage[] = [];
  readonly #waiters: Array<(m: ChatMessage) => void> = [];

  private constructor(readonly socket: PartySocket) {
    socket.addEventListener("message", (event) => {
      const message = JSON.parse(String((event as MessageEvent).data)) as ChatMessage;
      const waiter = this.#waiters.shift();
      if (waiter !== undefined) waiter(message);
      else this.#queue.push(message);
    });
  }

  static async connect(target: AppTarget, room: string, name: string): Promise<ChatClient> {
    const socket = new PartySocket({ host: target.host, party: "chat", room, query: { name }, WebSocket, maxRetries: 0 });
    const client = new ChatClient(socket);
    running.push({ stop: () => socket.close() });
    const welcome = await client.next();
    expect(welcome).toMatchObject({ type: "welcome", id: socket.id, room });
    return client;
  }

  next(timeoutMs = 5_000): Promise<ChatMessage> {
    const queued = this.#queue.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`No message within ${timeoutMs} ms`)), timeoutMs);
      this.#waiters.push((m) => {
        clearTimeout(timer);
        resolve(m);
      });
    });
  }
}

/** Every client receives the same broadcast. */
async function everyoneGets(clients: ChatClient[], expected: Partial<ChatMessage>): Promise<void> {
  for (const client of clients) expect(await client.next()).toMatchObject(expected);
}

async function threeClientsChat(target: AppTarget, room: string): Promise<ChatClient[]> {
  const ann = await ChatClient.connect(target, room, "ann");
  const bob = await ChatClient.connect(target, room, "bob");
  const cy = await ChatClient.connect(target, room, "cy");
  const all = [ann, bob, cy];
  ann.socket.send("hello");
  await everyoneGets(all, { type: "chat", from: "ann", sent: 1, text: "hello", online: 3 });
  bob.socket.send("hi ann");
  await everyoneGets(all, { type: "chat", from: "bob", sent: 1, text: "hi ann", online: 3 });
  return all;
}

describe("partyserver chat", () => {
  test("on torpor dev: broadcast to three clients; after forced hibernation messages flow and connection.state survived", async () => {
    const app = await TorporApp.start(appDir);
    running.push(app);
    onTestFinished(() => expect(app.stderr(), "torpor logged a warning or an error").not.toMatch(/\] (warn|error):/));
    const [ann, bob, cy] = await threeClientsChat(app, "lobby");
    const all = [ann!, bob!, cy!];

    await app.hibernate("Chat", "lobby");
    const asleep = await app.object("Chat", "lobby");
    expect(asleep).toMatchObject({ state: "hibernated", sockets: 3, constructed: 1 });

    // Each sender's count continues from its attachment: connection.state came through hibernation.
    ann!.socket.send("still here?");
    await everyoneGets(all, { type: "chat", from: "ann", sent: 2, text: "still here?", online: 3 });
    cy!.socket.send("yes");
    await everyoneGets(all, { type: "chat", from: "cy", sent: 1, text: "yes", online: 3 });
    expect(await app.object("Chat", "lobby")).toMatchObject({ state: "live", sockets: 3, constructed: 2, woken: 1 });
  });

  test("on workerd (miniflare): the same broadcast and per-connection state", async () => {
    const workerd = await startWorkerd(appDir);
    running.push(workerd);
    const [ann, , cy] = await threeClientsChat(workerd, "lobby");
    ann!.socket.send("again");
    expect(await cy!.next()).toMatchObject({ type: "chat", from: "ann", sent: 2, text: "again", online: 3 });
  });
});
