/** Served by the torpor() vitest plugin (plugin.ts). */
declare module "virtual:torpor/worker-config" {
  import type { WorkerModuleConfig } from "./worker-config.ts";
  export const config: WorkerModuleConfig;
  export function loadMain(): Promise<unknown>;
}
