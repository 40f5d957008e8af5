// A supervisor -> worker control message while a burst of connections is handed to the workers: `GET /readyz` on
// the admin endpoint asks every worker for its checks (one control round trip each) and answers when all did (or
// after the probe's 3 s wait, as not ready). Connections reach the workers as passed descriptors over Node IPC, one
// acknowledged at a time; a control message queued behind them waits for the whole burst.
import { request } from "node:http";

/** One probe: how long `/readyz` took, its status, and how many of the burst's requests were answered before it. */
export interface BurstProbe {
  ms: number;
  status: number;
  answeredBefore: number;
  burstMs: number;
}

function get(url: string, onConnect?: () => void): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: false }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode!));
      res.on("error", reject);
    });
    req.on("socket", (socket) => socket.once("connect", () => onConnect?.()));
    req.on("error", reject);
    req.end();
  });
}

/** Opens `connections` at once (each a request to `path(i)`), then, once all are connected, times `/readyz`. */
export async function probeDuringBurst(appUrl: string, adminUrl: string, connections: number, path: (i: number) => string): Promise<BurstProbe> {
  let connected = 0;
  let answered = 0;
  let allConnected = () => {};
  const up = new Promise<void>((resolve) => (allConnected = resolve));
  const started = performance.now();
  const burst = Array.from({ length: connections }, (_, i) =>
    get(`${appUrl}${path(i)}`, () => {
      if (++connected === connections) allConnected();
    }).then((status) => {
      answered++;
      return status;
    }),
  );
  await up;
  const t = performance.now();
  const status = await get(`${adminUrl}/readyz`);
  const ms = performance.now() - t;
  const answeredBefore = answered;
  const statuses = await Promise.all(burst);
  if (statuses.some((s) => s !== 200)) throw new Error(`the burst's requests: ${statuses.filter((s) => s !== 200).length} not 200`);
  return { ms, status, answeredBefore, burstMs: performance.now() - started };
}
