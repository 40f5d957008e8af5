/**
 * SIGTERM under load: `torpor start` finishes in-flight events, commits,
 * closes sockets with 1012 and exits 0; after a restart on the same
 * --persist-to, every write that was acknowledged is in storage.
 */
import { afterEach, expect, it } from "vitest";
import { Client, removeDir, startTorpor, tempDir, wsUrl, type TorporProcess } from "./helpers.ts";

const CLIENTS = 4;
/** Writes each client keeps in flight: every ack sends the next one, so the stream runs until the server closes. */
const WINDOW = 25;
/** Acks seen (over all clients) before SIGTERM is sent: well into the stream. */
const ACKS_BEFORE_SIGTERM = 200;

const processes: TorporProcess[] = [];
const dirs: string[] = [];

afterEach(() => {
  for (const p of processes.splice(0)) p.kill();
  for (const d of dirs.splice(0)) removeDir(d);
});

// Two starts of `torpor dev` (a supervisor and a worker each): more than the default 20 s on a loaded machine.
it("loses no acknowledged write when SIGTERM arrives mid-stream, and clients see 1012", { timeout: 60_000 }, async () => {
  const dir = tempDir();
  dirs.push(dir);
  const server = await startTorpor(["start", "--port", "0", "--persist-to", dir]);
  processes.push(server);

  const acked = new Set<string>();
  let sigtermSent = false;
  let ackedAtSigterm = 0;
  let sent = 0;
  let sentAfterSigterm = 0;
  const write = (client: Client, i: number) => {
    if (client.ws.readyState !== client.ws.OPEN) return;
    client.send({ type: "write", id: `w${i}-${sent}`, body: `message ${sent} from writer ${i}` });
    sent++;
    if (sigtermSent) sentAfterSigterm++;
  };
  const clients = await Promise.all(Array.from({ length: CLIENTS }, (_, i) => Client.connect(wsUrl(server.url, `/rooms/load-${i % 2}/ws?user=writer-${i}`))));
  clients.forEach((client, i) => {
    client.ws.on("message", (data) => {
      const msg = JSON.parse(String(data)) as { type: string; id?: string };
      if (msg.type !== "ack") return;
      acked.add(msg.id!);
      if (!sigtermSent && acked.size >= ACKS_BEFORE_SIGTERM) {
        sigtermSent = true;
        ackedAtSigterm = acked.size;
        server.child.kill("SIGTERM");
      }
      write(client, i);
    });
    for (let n = 0; n < WINDOW; n++) write(client, i);
  });

  const closes = await Promise.all(clients.map((c) => c.closed));
  expect(await server.exited).toBe(0);
  expect(sigtermSent).toBe(true);
  for (const close of closes) expect([1001, 1012]).toContain(close.code);
  // SIGTERM landed mid-stream: clients kept writing (and getting acks) while the server shut down.
  expect(sentAfterSigterm).toBeGreaterThan(0);
  expect(acked.size).toBeGreaterThanOrEqual(ackedAtSigterm);
  const logs = server.stdout.map((line) => JSON.parse(line) as { level: string; message: string });
  expect(logs.some((l) => l.message === "Stopped")).toBe(true);
  expect(logs.filter((l) => l.level === "error")).toEqual([]);

  const restarted = await startTorpor(["dev", "--port", "0", "--persist-to", dir]);
  processes.push(restarted);
  const stored = new Set<string>();
  for (const room of ["load-0", "load-1"]) {
    const rows = (await (await fetch(`${restarted.url}/rooms/${room}/history`)).json()) as Array<{ id: string }>;
    for (const row of rows) stored.add(row.id);
  }
  const lost = [...acked].filter((id) => !stored.has(id));
  expect(lost).toEqual([]);
  restarted.child.kill("SIGTERM");
  expect(await restarted.exited).toBe(0);
});
