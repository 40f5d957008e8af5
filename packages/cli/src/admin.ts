import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { TorporError, type Logger, type ObjectInfo, type Runtime } from "@torpor/core";
import type { DataDirLock } from "@torpor/storage-sqlite";
import { dashboardAsset, dashboardData, type WorkerStats } from "./dashboard/dashboard.ts";
import { adminAccess, checkAdminExposure } from "./admin-access.ts";
import { lockCheck, readiness, runtimeChecks, type Readiness } from "./health.ts";
import { prometheusText } from "./prometheus.ts";

/** A listening admin endpoint. */
export interface AdminServer {
  readonly url: string;
  close(): Promise<void>;
}

/** Where the admin endpoint listens, and its token (required beyond loopback). */
export interface AdminOptions {
  port: number;
  host: string;
  logger: Logger;
  token: string | null;
  /** The objects' storage folder (`<persist-to>/do`): the dashboard shows each object's size on disk. */
  dataDir?: string;
}

/** What the admin endpoint reports on: one runtime, or (cluster) every worker through the supervisor. */
export interface AdminBackend {
  /** Rows of `GET /objects`. */
  objects(): Promise<Array<Record<string, unknown>>>;
  /** The `GET /metrics` text. */
  metrics(): Promise<string>;
  /** Forces one object to hibernate; the status and JSON body to answer with. */
  hibernate(binding: string, name: string): Promise<{ status: number; body: unknown }>;
  /** The `/readyz` checks. */
  ready(): Promise<Readiness>;
  /** Each worker's metrics and objects (one entry, worker null, for one process): what the dashboard shows. */
  stats(): Promise<WorkerStats[]>;
}

/** The admin backend of one runtime (`lock`: the data-directory lock it serves under, if any). */
export function runtimeAdmin(runtime: Runtime, lock: DataDirLock | null = null): AdminBackend {
  const provider = runtime.provider as { probe?: () => string | null };
  const storage = { probe: () => provider.probe?.() ?? null };
  return {
    objects: async () => runtime.objects().map((o) => objectRow(o)),
    metrics: async () => prometheusText(runtime),
    hibernate: (binding, name) => hibernateObject(runtime, binding, name),
    ready: async () => readiness([...(lock !== null ? [lockCheck(lock)] : []), ...runtimeChecks(runtime, storage)]),
    stats: async () => [{ worker: null, metrics: runtime.metrics, objects: runtime.objects() }],
  };
}

/**
 * The admin endpoint, for operators and tests (it can force hibernation and
 * lists every object, so access is checked: see admin-access.ts):
 * - `GET /objects`: JSON list of objects (binding, id, name, state, sockets, counters, blockers)
 * - `POST /objects/<binding>/<name>/hibernate`: 200 once hibernated (sockets stay open), 409 with the reasons if it cannot
 * - `GET /metrics`: Prometheus text format
 * - `GET /healthz`, `GET /readyz`: liveness and readiness (health.ts), open to probes without the token
 * - `GET /dashboard`: a page showing the objects live (dashboard/), `GET /dashboard/data` its JSON
 */
export function startAdmin(runtime: Runtime, options: AdminOptions & { lock?: DataDirLock | null }): Promise<AdminServer> {
  return serveAdmin(runtimeAdmin(runtime, options.lock ?? null), options);
}

/** The admin endpoint over any backend (a cluster supervisor's covers every worker). */
export async function serveAdmin(backend: AdminBackend, options: AdminOptions): Promise<AdminServer> {
  checkAdminExposure(options.host, options.token);
  let refuse: ReturnType<typeof adminAccess> = () => ({ status: 403, code: "ERR_ADMIN_HOST", message: "Not listening yet." });
  const server = createServer((req, res) => {
    // Probes (a load balancer, kubelet, Docker) cannot always send the token or the bound Host;
    // these two answer only whether the server runs and can serve.
    const probe = probeRoute(req);
    if (probe !== null) {
      answerProbe(backend, probe, req, res).catch((error: unknown) => {
        options.logger.error("Admin request failed", { url: req.url, error });
        if (!res.headersSent) send(res, 500, { error: { code: "ERR_INTERNAL", message: (error as Error).message } });
      });
      return;
    }
    const asset = dashboardAsset(req);
    const refusal = refuse(req, { assets: asset !== null });
    if (refusal !== null) {
      send(res, refusal.status, { error: { code: refusal.code, message: refusal.message } }, refusal.headers);
      return;
    }
    (asset !== null ? asset.send(res) : handle(backend, req, res, options)).catch((error: unknown) => {
      options.logger.error("Admin request failed", { url: req.url, error });
      if (!res.headersSent) send(res, 500, { error: { code: "ERR_INTERNAL", message: (error as Error).message } });
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  refuse = adminAccess(options.host, port, options.token);
  const host = options.host.includes(":") ? `[${options.host}]` : options.host;
  return {
    url: `http://${host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** How long `/readyz` waits for the checks (a worker that does not answer in time is not ready). */
const READY_TIMEOUT_MS = 5_000;

function probeRoute(req: IncomingMessage): "healthz" | "readyz" | null {
  if (req.method !== "GET" && req.method !== "HEAD") return null;
  const path = (req.url ?? "").split("?")[0];
  return path === "/healthz" ? "healthz" : path === "/readyz" ? "readyz" : null;
}

async function answerProbe(backend: AdminBackend, route: "healthz" | "readyz", req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (route === "healthz") {
    res.writeHead(200, { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store" });
    res.end(req.method === "HEAD" ? undefined : "ok\n");
    return;
  }
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<Readiness>((resolve) => {
    timer = setTimeout(
      () => resolve({ ready: false, checks: [{ name: "workers", ok: false, detail: `the checks did not finish within ${READY_TIMEOUT_MS} ms` }] }),
      READY_TIMEOUT_MS,
    );
  });
  const result = await Promise.race([backend.ready(), timeout]).finally(() => clearTimeout(timer));
  const failed = result.checks.filter((c) => !c.ok);
  const body = { ...result, ...(failed.length > 0 ? { reason: failed.map((c) => `${c.name}: ${c.detail}`).join("; ") } : {}) };
  res.writeHead(result.ready ? 200 : 503, { "content-type": "application/json", "cache-control": "no-store" });
  res.end(req.method === "HEAD" ? undefined : `${JSON.stringify(body)}\n`);
}

async function handle(backend: AdminBackend, req: IncomingMessage, res: ServerResponse, options: AdminOptions): Promise<void> {
  let path: string;
  try {
    path = new URL(req.url ?? "/", "http://admin").pathname;
  } catch {
    return send(res, 400, { error: { code: "ERR_BAD_REQUEST", message: `The request target ${JSON.stringify(req.url)} is not a valid path.` } });
  }
  if (path === "/objects") {
    if (req.method !== "GET") return methodNotAllowed(res, "GET");
    return send(res, 200, await backend.objects());
  }
  if (path === "/dashboard/data") {
    if (req.method !== "GET") return methodNotAllowed(res, "GET");
    res.setHeader("cache-control", "no-store");
    return send(res, 200, dashboardData(await backend.stats(), options.dataDir));
  }
  if (path === "/metrics") {
    if (req.method !== "GET") return methodNotAllowed(res, "GET");
    const text = await backend.metrics();
    res.writeHead(200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" });
    res.end(text);
    return;
  }
  const match = /^\/objects\/([^/]+)\/([^/]+)\/hibernate$/.exec(path);
  if (match !== null) {
    if (req.method !== "POST") return methodNotAllowed(res, "POST");
    let binding: string;
    let name: string;
    try {
      binding = decodeURIComponent(match[1]!);
      name = decodeURIComponent(match[2]!);
    } catch {
      return send(res, 400, { error: { code: "ERR_BAD_REQUEST", message: `The path ${path} is not valid %-encoding.` } });
    }
    const { status, body } = await backend.hibernate(binding, name);
    return send(res, status, body);
  }
  send(res, 404, {
    error: {
      code: "ERR_NOT_FOUND",
      message: `No admin route ${req.method ?? "GET"} ${path}. Routes: GET /objects, POST /objects/<binding>/<name>/hibernate, GET /metrics, GET /healthz, GET /readyz, GET /dashboard.`,
    },
  });
}

/** Forces an object of this runtime to hibernate: 200, 409 with what pins it, or 404 when it is not in memory. */
export async function hibernateObject(runtime: Runtime, binding: string, name: string): Promise<{ status: number; body: unknown }> {
  let id: string;
  try {
    id = runtime.namespace(binding).idFromName(name).toString();
  } catch (error) {
    if (error instanceof TorporError) return { status: 404, body: { error: { code: error.code, message: error.message } } };
    throw error;
  }
  // Asking about an object must not create it (getByName would).
  if (!runtime.objects({ all: true }).some((o) => o.id === id && o.binding === binding)) {
    return {
      status: 404,
      body: {
        error: {
          code: "ERR_UNKNOWN_OBJECT",
          message: `The object ${binding}/${name} has not run since the server started, so there is nothing in memory to hibernate.`,
        },
      },
    };
  }
  const stub = runtime.namespace(binding).getByName(name);
  try {
    await runtime.hibernate(stub);
  } catch (error) {
    if (error instanceof TorporError && error.code === "ERR_NOT_HIBERNATABLE") {
      return { status: 409, body: { error: { code: error.code, message: error.message, blockers: runtime.inspect(stub).blockers } } };
    }
    throw error;
  }
  const info = runtime.inspect(stub);
  return { status: 200, body: { binding, id: info.id, name: info.name ?? null, state: info.state, sockets: info.sockets } };
}

/** One object in `GET /objects`. */
export function objectRow(o: ObjectInfo, extra?: Record<string, unknown>): Record<string, unknown> {
  return {
    binding: o.binding,
    id: o.id,
    name: o.name ?? null,
    state: o.state,
    sockets: o.sockets,
    constructed: o.counters.constructed,
    woken: o.counters.woken,
    evicted: o.counters.evicted,
    events: o.counters.events,
    errors: o.counters.errors,
    blockers: o.blockers,
    tags: o.tags,
    lastEvent: o.lastEvent,
    alarm: o.alarm,
    ...extra,
  };
}

function methodNotAllowed(res: ServerResponse, allow: string): void {
  res.setHeader("allow", allow);
  send(res, 405, { error: { code: "ERR_METHOD_NOT_ALLOWED", message: `Use ${allow}.` } });
}

function send(res: ServerResponse, status: number, body: unknown, headers?: Record<string, string>): void {
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(`${JSON.stringify(body)}\n`);
}
