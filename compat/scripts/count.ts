// Counts behaviours in the last differential run (compat/out/observed.json,
// written by test/differential.test.ts): each scenario's leaf values,
// workerd's against Torpor's. Prints how many match, how many differ under a
// KNOWN entry (grouped by the docs row it names) and every other difference:
//   node --conditions=@torpor/source --import tsx compat/scripts/count.ts
import { readFileSync } from "node:fs";

const observed = JSON.parse(readFileSync(new URL("../out/observed.json", import.meta.url), "utf8")) as {
  workerd: Record<string, unknown>;
  torpor: Record<string, unknown>;
};
// The test file's list, read without running its tests.
const source = readFileSync(new URL("../test/differential.test.ts", import.meta.url), "utf8");
const known: { path: (string | number)[]; doc: string }[] = [];
for (const m of source.matchAll(/\{ doc: (\w+), path: (\[[^\]]*\])/g)) known.push({ doc: m[1]!, path: JSON.parse(m[2]!) });

function leaves(value: unknown, path: string[], out: Map<string, string>): void {
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>);
    if (entries.length === 0) out.set(path.join("."), JSON.stringify(value));
    for (const [k, v] of entries) leaves(v, [...path, k], out);
  } else out.set(path.join("."), JSON.stringify(value));
}

let matching = 0;
const byDoc = new Map<string, number>();
const unexplained: string[] = [];
for (const scenario of Object.keys(observed.workerd)) {
  const w = new Map<string, string>();
  const t = new Map<string, string>();
  leaves(observed.workerd[scenario], [scenario], w);
  leaves(observed.torpor[scenario], [scenario], t);
  for (const key of new Set([...w.keys(), ...t.keys()])) {
    if (w.get(key) === t.get(key)) {
      matching++;
      continue;
    }
    const entry = known.find((k) => key === k.path.join(".") || key.startsWith(`${k.path.join(".")}.`));
    if (entry === undefined) unexplained.push(`${key}: workerd ${w.get(key)} / torpor ${t.get(key)}`);
    else byDoc.set(entry.doc, (byDoc.get(entry.doc) ?? 0) + 1);
  }
}
const explained = [...byDoc.values()].reduce((a, b) => a + b, 0);
console.log(`${matching} behaviours match, ${explained} differ under KNOWN entries, ${unexplained.length} differ unexplained`);
for (const [doc, n] of byDoc) console.log(`  ${doc}: ${n}`);
for (const line of unexplained) console.log(`  UNEXPLAINED ${line}`);
