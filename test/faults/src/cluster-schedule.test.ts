/**
 * The fault schedule in CI: `torpor start --workers 3` under a mixed workload
 * while a nemesis kills workers and the supervisor, reloads (good code, and
 * code that crashes right after it is ready), stalls a reader and runs long
 * events, for 50 s (the first faults are each kind once, in a seeded
 * order, and faults go on for up to 25 s more until all ran); the checker then reads the
 * history and the data directory. The seed is printed first; FAULT_SEED runs
 * the same schedule again, FAULT_DURATION_MS changes its length, and
 * `pnpm soak -- --minutes N` runs it for longer.
 */
import { expect, it } from "vitest";
import { Random } from "./random.ts";
import { runSchedule } from "./schedule.ts";

it("a fault schedule against torpor start --workers 3 finds no anomaly", async () => {
  const seed = process.env.FAULT_SEED !== undefined ? Number(process.env.FAULT_SEED) : Random.freshSeed();
  const durationMs = Number(process.env.FAULT_DURATION_MS ?? 50_000);
  // Printed before anything runs, so a run that fails (or hangs) can be repeated.
  process.stdout.write(`fault schedule: seed ${seed} (FAULT_SEED=${seed} repeats it), ${durationMs} ms of faults\n`);
  // Up to 25 s more for the covering round (every kind once): a round takes 90-110 s on a loaded 2-core machine, and
  // the whole test must stay well inside its 3 minutes.
  const result = await runSchedule({ seed, durationMs, coverWithinMs: 25_000 });
  process.stdout.write(`${result.report}\n`);
  expect(result.summary.faults).toBeGreaterThan(0);
  expect(result.anomalies, result.report).toEqual([]);
}, 180_000);
