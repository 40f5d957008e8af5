// Prints (and writes to compat/out/) what each runtime observed, for reading
// the differences by eye: node --conditions=@torpor/source --import tsx compat/scripts/observe.ts [scenario…]
import { mkdirSync, writeFileSync } from "node:fs";
import { observe, startTorpor, startWorkerd } from "../test/harness.ts";

const only = process.argv.slice(2);
// COMPAT_DATE / COMPAT_FLAGS (comma-separated) try other workerd settings.
const date = process.env.COMPAT_DATE;
const flags = process.env.COMPAT_FLAGS === undefined ? undefined : process.env.COMPAT_FLAGS.split(",").filter(Boolean);
const [workerd, torpor] = await Promise.all([startWorkerd(date, flags), startTorpor()]);
try {
  const [w, t] = await Promise.all([observe(workerd, only.length ? only : undefined), observe(torpor, only.length ? only : undefined)]);
  const out = new URL(`../out/${process.env.COMPAT_OUT ?? ""}`, import.meta.url);
  mkdirSync(out, { recursive: true });
  writeFileSync(new URL("workerd.json", out), JSON.stringify({ observations: w, logs: workerd.logs }, null, 2));
  writeFileSync(new URL("torpor.json", out), JSON.stringify({ observations: t, logs: torpor.logs }, null, 2));
  console.log("wrote compat/out/workerd.json and compat/out/torpor.json");
} finally {
  await Promise.all([workerd.stop(), torpor.stop()]);
}
