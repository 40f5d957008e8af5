// Baseline for a spliced WebSocket: a bare TCP relay (net + pipe, Nagle off), nothing of Torpor in it, in front of
// the owner node. What one extra Node process in the path costs on this machine at the time of the run; a spliced
// socket goes through one such process (the worker of the node the client reached).
// BENCH_TARGET: host:port to relay to.
import { connect, createServer } from "node:net";
import { serve } from "../lib/proc.ts";

const [host, port] = (process.env.BENCH_TARGET ?? "").split(":");
if (host === undefined || port === undefined) throw new Error("BENCH_TARGET must be host:port");
const server = createServer((client) => {
  const upstream = connect(Number(port), host);
  client.setNoDelay(true);
  upstream.setNoDelay(true);
  const cut = () => {
    client.destroy();
    upstream.destroy();
  };
  for (const s of [client, upstream]) {
    s.on("error", cut);
    s.on("close", cut);
  }
  client.pipe(upstream);
  upstream.pipe(client);
});
await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
serve({}, { port: (server.address() as { port: number }).port });
