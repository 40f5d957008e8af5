import type { BindingsConfig } from "@torpor/bindings";
import type { DurableObjectBinding, InProcessLimits, ServiceBindingConfig } from "@torpor/cli";

/** What the plugin (in the vitest process) hands the test files' runtime, as JSON. */
export interface WorkerModuleConfig {
  /** Absolute path of the Worker's main module. */
  main: string;
  /** The directory of the wrangler config (of `main` without one): config paths are relative to it. */
  configDir: string;
  bindings: DurableObjectBinding[];
  /** The config's `name`: what a service binding to the Worker itself names. */
  name: string | undefined;
  /** `services`: bindings to the Worker itself (or its named entrypoints); others fail at call time. */
  services: ServiceBindingConfig[];
  /** The other bindings (KV, D1, R2…), as the config gives them; each test file gets them on empty storage. */
  bindingConfig: BindingsConfig;
  vars: Record<string, unknown>;
  clock: "real" | "virtual";
  /** The limits that apply in one process (limits.ts in the CLI: the config's `torpor` section, `hibernateAfterMs` from the plugin's options first); the network limits do not apply. */
  limits: InProcessLimits;
  compatibilityDate: string | undefined;
  compatibilityFlags: string[];
}
