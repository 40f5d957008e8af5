/**
 * The throwaway server of the tests: a TCP port taken between its choice and
 * the start (in CI, by anything else on the machine) costs another port, not
 * the test that needed the server.
 */
import { createServer, type Server } from "node:net";
import { expect, onTestFinished } from "vitest";
import { openClusterDb } from "../src/index.ts";
import { pgIt } from "./pg-fixture.ts";
import { startPgServer } from "./pg-server.ts";

pgIt(
  "a TCP port already taken is skipped: the server starts on another one and answers there",
  async () => {
    const holder: Server = createServer();
    await new Promise<void>((resolve) => holder.listen(0, "127.0.0.1", resolve));
    onTestFinished(() => {
      holder.close();
    });
    const taken = (holder.address() as { port: number }).port;
    const pg = startPgServer({ tcpAddress: "127.0.0.1", tryPorts: [taken] });
    onTestFinished(() => pg.destroy());
    expect(pg.port).not.toBe(taken);
    expect(pg.tcpUrl).toBe(`postgres://torpor@127.0.0.1:${pg.port}/postgres`);
    const db = await openClusterDb({ url: pg.tcpUrl!, poolSize: 1, skipPoolerCheck: true });
    try {
      expect((await db.query<{ one: number }>("SELECT 1 AS one")).rows).toEqual([{ one: 1 }]);
    } finally {
      await db.close();
    }
    // Restarted, it listens on the same port (its clients keep their URL).
    pg.restart("fast");
    const again = await openClusterDb({ url: pg.tcpUrl!, poolSize: 1, skipPoolerCheck: true });
    try {
      expect((await again.query<{ one: number }>("SELECT 1 AS one")).rows).toEqual([{ one: 1 }]);
    } finally {
      await again.close();
    }
  },
  60_000,
);
