import type { BindingsConfig } from "@torpor/bindings";
import type { DurableObjectBinding } from "@torpor/cli";

/** What the plugin (in the vitest process) hands the test files' runtime, as JSON. */
export interface WorkerModuleConfig {
  /** Absolute path of the Worker's main module. */
  main: string;
  bindings: DurableObjectBinding[];
  /** The other bindings (KV, D1, R2…), as the config gives them; each test file gets them on empty storage. */
  bindingConfig: BindingsConfig;
  vars: Record<string, unknown>;
  clock: "real" | "virtual";
  hibernateAfterMs: number | undefined;
  /** From the config's `torpor` section (its network settings do not apply in process). */
  maxLiveObjects: number | undefined;
  limits: { maxAttachmentBytes: number | undefined; maxMessageBytes: number | undefined };
  compatibilityDate: string | undefined;
  compatibilityFlags: string[];
}
