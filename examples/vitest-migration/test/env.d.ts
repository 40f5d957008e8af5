// What `env` of cloudflare:test and cloudflare:workers holds: Cloudflare's types read Cloudflare.Env.
import type { Env as WorkerEnv } from "../src/env.ts";

declare global {
  namespace Cloudflare {
    interface Env extends WorkerEnv {}
  }
}
