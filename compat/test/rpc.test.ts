// Differential test of RPC by reference: the same Worker (rpc/worker.js) on
// workerd through miniflare and on Torpor through the CLI reading
// rpc/wrangler.jsonc. Each case (functions, RpcTargets, stubs passed on,
// returned targets, pipelining, disposal, errors) must observe the same on
// both, but for the known differences below (each names its row of
// docs/compatibility.md and pins both sides' values).
//
// Reading the observations by eye: compat/out/rpc-{workerd,torpor}.json.
import { mkdirSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getRoute } from "./bindings-harness.ts";
import { startMiniflare, startTorporDevInProcess, type Target } from "./harness.ts";
import { type KnownDifference, maskKnown } from "./known-differences.ts";

const configPath = fileURLToPath(new URL("../rpc/wrangler.jsonc", import.meta.url));

// biome-ignore format: one known difference per line
const KNOWN: KnownDifference[] = [];

/** Every case the Worker runs (a missing one on either side fails its test). */
const CASES = [
  "callback",
  "callbackThrows",
  "typeofStubs",
  "targetArgument",
  "targetGetter",
  "targetOwnField",
  "targetConstructor",
  "targetToString",
  "targetMissing",
  "targetNotAFunction",
  "targetThrows",
  "keptWithoutDup",
  "keptWithDup",
  "returnedTarget",
  "returnedTargetDisposed",
  "returnedFunction",
  "pipelinedCall",
  "pipelinedProperty",
  "pipelinedIntoPlainResult",
  "pipelinedPlainProperty",
  "pipelinedMissing",
  "pipelinedOnNumber",
  "pipelinedFunction",
  "propertyPathCall",
  "propertyPathRead",
  "disposedPromise",
  "resultDispose",
  "relayedCallback",
  "stubPassedOn",
  "nestedFunctions",
  "explicitRpcStub",
  "rpcStubOfNumber",
  "rpcStubOfDate",
  "rpcStubWithoutNew",
  "stubLocalMembers",
  "dupTarget",
] as const;

function startWorkerdRpc(): Promise<Target> {
  return startMiniflare({
    scriptPath: fileURLToPath(new URL("../rpc/worker.js", import.meta.url)),
    compatibilityDate: "2026-04-07",
    durableObjects: { ROOMS: { className: "Room", useSQLite: true } },
  });
}

let workerd: Target;
let torpor: Target;
const observed: { workerd?: { status: number; body: Record<string, unknown> }; torpor?: { status: number; body: Record<string, unknown> } } = {};

beforeAll(async () => {
  [workerd, torpor] = await Promise.all([startWorkerdRpc(), startTorporDevInProcess(configPath, "torpor-compat-rpc-")]);
  [observed.workerd, observed.torpor] = (await Promise.all([getRoute(workerd.url, "/rpc"), getRoute(torpor.url, "/rpc")])) as [
    { status: number; body: Record<string, unknown> },
    { status: number; body: Record<string, unknown> },
  ];
  const out = new URL("../out/", import.meta.url);
  mkdirSync(out, { recursive: true });
  writeFileSync(new URL("rpc-workerd.json", out), JSON.stringify({ observations: observed.workerd, logs: workerd.logs }, null, 2));
  writeFileSync(new URL("rpc-torpor.json", out), JSON.stringify({ observations: observed.torpor, logs: torpor.logs }, null, 2));
}, 180_000);

afterAll(async () => {
  await Promise.all([workerd?.stop(), torpor?.stop()]);
});

describe("RPC by reference on workerd and on Torpor", () => {
  it("both runs answered every case", () => {
    expect(observed.workerd?.status, "workerd run").toBe(200);
    expect(observed.torpor?.status, "torpor run").toBe(200);
    expect(Object.keys(observed.workerd!.body).sort()).toEqual([...CASES].sort());
    expect(Object.keys(observed.torpor!.body).sort()).toEqual([...CASES].sort());
  });
  for (const name of CASES) {
    it(name, () => {
      const w = structuredClone(observed.workerd?.body[name]);
      const t = structuredClone(observed.torpor?.body[name]);
      expect(w, "workerd observed the case").toBeDefined();
      maskKnown(KNOWN, name, w, t);
      expect(t).toEqual(w);
    });
  }
});
