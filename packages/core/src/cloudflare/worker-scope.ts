/**
 * What the `cloudflare:workers` module of a Worker loaded apart reads its `env` and
 * `exports` from (the CLI's resolve hook builds that module for every Worker after the
 * first of `torpor dev -c a -c b`: everything else it re-exports from ./workers.ts, so all
 * Workers share one `DurableObject` and `WorkerEntrypoint` class).
 */
export { scopedWorkerEnv } from "../runtime/worker-env.ts";
