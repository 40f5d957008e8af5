// Periodic heap figures of every process of the tree (stderr), for the flood A/B.
import v8 from "node:v8";
const every = Number(process.env.PROBE_EVERY_MS ?? 15000);
const role = process.env.TORPOR_CLUSTER_WORKER === undefined ? "sup" : `w${process.env.TORPOR_CLUSTER_WORKER}`;
const M = (b) => (b / 1048576).toFixed(1);
setInterval(() => {
  const s = Object.fromEntries(v8.getHeapSpaceStatistics().map((x) => [x.space_name, x]));
  process.stderr.write(
    `PROBE ${new Date().toISOString().slice(11, 19)} ${process.pid} ${role} rss=${M(process.memoryUsage().rss)} used=${M(v8.getHeapStatistics().used_heap_size)} young=${M(s.new_space.physical_space_size)} old=${M(s.old_space.physical_space_size)}/${M(s.old_space.space_used_size)}\n`,
  );
}, every).unref();
