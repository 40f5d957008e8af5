// Prints KNOWN entries (test/differential.test.ts) for the given paths, from
// what observe.ts last wrote to compat/out/:
//   node --conditions=@torpor/source --import tsx compat/scripts/known.ts DOC_CONSTANT path.to.value [...]
// Path elements are split on "."; numbers index arrays.
import { readFileSync } from "node:fs";

const read = (name: string) => (JSON.parse(readFileSync(new URL(`../out/${name}.json`, import.meta.url), "utf8")) as { observations: unknown }).observations;
const workerd = read("workerd");
const torpor = read("torpor");
const [doc, ...paths] = process.argv.slice(2);

function at(value: unknown, path: string[]): unknown {
  let v = value;
  for (const key of path) v = v === null || typeof v !== "object" ? undefined : (v as Record<string, unknown>)[key];
  return v ?? null;
}

for (const raw of paths) {
  const path = raw.split(".");
  const keys = path.map((p) => (/^\d+$/.test(p) ? p : JSON.stringify(p))).join(", ");
  console.log(`  { doc: ${doc}, path: [${keys}], workerd: ${JSON.stringify(at(workerd, path))}, torpor: ${JSON.stringify(at(torpor, path))} },`);
}
