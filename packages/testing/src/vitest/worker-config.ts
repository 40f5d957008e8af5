import type { DurableObjectBinding } from "@torpor/cli";

/** What the plugin (in the vitest process) hands the test files' runtime, as JSON. */
export interface WorkerModuleConfig {
  /** Absolute path of the Worker's main module. */
  main: string;
  bindings: DurableObjectBinding[];
  vars: Record<string, unknown>;
  clock: "real" | "virtual";
  hibernateAfterMs: number | undefined;
  /** From the config's `torpor` section (its network settings do not apply in process). */
  maxLiveObjects: number | undefined;
  limits: { maxAttachmentBytes: number | undefined; maxMessageBytes: number | undefined };
  compatibilityDate: string | undefined;
  compatibilityFlags: string[];
}
