// Differential test of RPC by reference: the same Worker (rpc/worker.js) on
// workerd through miniflare and on Torpor through the CLI reading
// rpc/wrangler.jsonc. Each case (functions, RpcTargets, stubs passed on,
// returned targets, pipelining, disposal, errors) must observe the same on
// both, but for the known differences below (each names its row of
// docs/compatibility.md and pins both sides' values).
//
// Reading the observations by eye: compat/out/rpc-{workerd,torpor}.json.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getRoute } from "./bindings-harness.ts";
import type { Target } from "./harness.ts";

const configPath = fileURLToPath(new URL("../rpc/wrangler.jsonc", import.meta.url));

interface KnownDifference {
  doc: string;
  /** Path into the observations; the first element is the case. */
  path: (string | number)[];
  workerd: unknown;
  torpor: unknown;
}

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

async function startWorkerdRpc(): Promise<Target> {
  const { Miniflare, Log, LogLevel } = await import("miniflare");
  const logs: string[] = [];
  class RecordingLog extends Log {
    constructor() {
      super(LogLevel.DEBUG);
    }
    protected override log(message: string): void {
      logs.push(message);
    }
  }
  const mf = new Miniflare({
    modules: true,
    modulesRules: [{ type: "ESModule", include: ["**/*.js"] }],
    scriptPath: fileURLToPath(new URL("../rpc/worker.js", import.meta.url)),
    compatibilityDate: "2026-04-07",
    durableObjects: { ROOMS: { className: "Room", useSQLite: true } },
    cf: false,
    log: new RecordingLog(),
    handleRuntimeStdio(stdout: NodeJS.ReadableStream, stderr: NodeJS.ReadableStream) {
      stdout.on("data", (chunk: Buffer) => logs.push(`stdout: ${chunk.toString().trimEnd()}`));
      stderr.on("data", (chunk: Buffer) => logs.push(`stderr: ${chunk.toString().trimEnd()}`));
    },
  });
  const url = await mf.ready;
  return { name: "workerd", url: String(url).replace(/\/$/, ""), logs, stop: () => mf.dispose() };
}

async function startTorporRpc(): Promise<Target> {
  const { startWorker } = await import("@torpor/cli");
  const dataDir = mkdtempSync(join(tmpdir(), "torpor-compat-rpc-"));
  const worker = await startWorker({
    command: "dev",
    config: configPath,
    port: 0,
    persistTo: dataDir,
    vars: {},
    adminIp: "127.0.0.1",
    logLevel: "warn",
  });
  return {
    name: "torpor",
    url: worker.url.replace(/\/$/, ""),
    logs: [],
    async stop() {
      await worker.close(1001, "test done");
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

function at(value: unknown, path: (string | number)[]): unknown {
  let v = value as Record<string | number, unknown> | undefined;
  for (const key of path) v = v?.[key] as Record<string | number, unknown> | undefined;
  return v;
}

function replaceAt(value: unknown, path: (string | number)[], replacement: unknown): void {
  const parent = at(value, path.slice(0, -1)) as Record<string | number, unknown> | undefined;
  if (parent !== undefined && parent !== null) parent[path.at(-1)!] = replacement;
}

let workerd: Target;
let torpor: Target;
const observed: { workerd?: { status: number; body: Record<string, unknown> }; torpor?: { status: number; body: Record<string, unknown> } } = {};

beforeAll(async () => {
  [workerd, torpor] = await Promise.all([startWorkerdRpc(), startTorporRpc()]);
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
      for (const known of KNOWN.filter((k) => k.path[0] === name)) {
        const rest = known.path.slice(1);
        const where = `${known.path.join(".")} (${known.doc})`;
        expect(at(w, rest), `workerd at ${where}: update or remove the KNOWN entry`).toEqual(known.workerd);
        expect(at(t, rest), `torpor at ${where}: update or remove the KNOWN entry`).toEqual(known.torpor);
        replaceAt(w, rest, `<known: ${known.doc}>`);
        replaceAt(t, rest, `<known: ${known.doc}>`);
      }
      expect(t).toEqual(w);
    });
  }
});
