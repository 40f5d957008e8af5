/**
 * The kernel's limit of descriptors in flight (a user may have at most its open-files limit sent and not yet
 * read): a sender over it gets ETOOMANYREFS, which is not a broken peer. The channel waits and sends again
 * once the receiver has read; before, it closed, and a reload's sockets still queued were closed with it.
 * A process with CAP_SYS_RESOURCE or CAP_SYS_ADMIN is exempt, so fd-in-flight-child.ts runs as root without
 * those two capabilities (setpriv drops them from its bounding set) and with 100 open files at most.
 */
import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { expect, it } from "vitest";

const here = dirname(fileURLToPath(import.meta.url));
const asRoot = process.getuid?.() === 0;

it.skipIf(!asRoot)("a sender over the descriptors-in-flight limit waits for the reader instead of closing", () => {
  const run = spawnSync(
    "setpriv",
    [
      "--bounding-set=-sys_resource,-sys_admin",
      "--inh-caps=-sys_resource,-sys_admin",
      "prlimit",
      "--nofile=100:100",
      process.execPath,
      "--conditions=@torpor/source",
      "--import",
      "tsx",
      join(here, "fd-in-flight-child.ts"),
    ],
    { cwd: join(here, ".."), encoding: "utf8", timeout: 30_000 },
  );
  expect(run.stderr).toBe("");
  const result = JSON.parse(run.stdout) as {
    queuedBeforeReading: number;
    closedBeforeReading: string | null;
    closedWith: string | null;
    received: number[];
  };
  // 20 × 8 descriptors against a limit of 100: the kernel refused some while nothing was read.
  expect(result.queuedBeforeReading).toBeGreaterThan(0);
  expect(result.closedBeforeReading).toBeNull();
  expect(result.closedWith).toBeNull();
  expect(result.received).toEqual(Array.from({ length: 20 }, (_, i) => i));
});
