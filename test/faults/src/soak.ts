/**
 * `pnpm soak -- --minutes N [--seed S] [--workers W] [--faults a,b] [--torpor-args "..."]`:
 * the CI fault schedule, run for longer. `--torpor-args` replaces the flags the
 * cluster runs with (SCHEDULE_ARGS), for example to run an older build that
 * lacks them. Prints the seed first and the report last;
 * exits 1 when the checker found anything (the history, logs and data are
 * kept, and their directory printed).
 */
import { parseArgs } from "node:util";
import { Random } from "./random.ts";
import { runSchedule } from "./schedule.ts";

const { values } = parseArgs({
  args: process.argv.slice(2).filter((a) => a !== "--"),
  options: {
    minutes: { type: "string", default: "10" },
    seed: { type: "string" },
    workers: { type: "string", default: "3" },
    faults: { type: "string" },
    "torpor-args": { type: "string" },
  },
});
const seed = values.seed !== undefined ? Number(values.seed) : Random.freshSeed();
const minutes = Number(values.minutes);
if (!Number.isFinite(minutes) || minutes <= 0) throw new Error(`--minutes must be a positive number; got ${values.minutes}`);
process.stdout.write(`soak: seed ${seed}, ${minutes} min of faults\n`);
const result = await runSchedule({
  seed,
  durationMs: minutes * 60_000,
  workers: Number(values.workers),
  ...(values.faults !== undefined ? { faults: values.faults.split(",") } : {}),
  ...(values["torpor-args"] !== undefined ? { args: values["torpor-args"].split(" ").filter((a) => a !== "") } : {}),
  onProgress: (line) => process.stdout.write(`soak: ${line}\n`),
});
process.stdout.write(`${result.report}\n`);
process.exit(result.anomalies.length > 0 ? 1 : 0);
