export { run } from "./main.ts";
export { startWorker } from "./serve.ts";
export type { RunningWorker } from "./serve.ts";
export { parseCliArgs } from "./args.ts";
export { HELP } from "./help.ts";
export type { CliArgs, Command } from "./args.ts";
export { findConfig, readConfig, parseConfig, validateConfig, CONFIG_FILES } from "./config.ts";
export type { WorkerConfig, DurableObjectBinding, TorporSection } from "./config.ts";
export { LIMITS, inProcessLimits, mergeLimits, runtimeLimits } from "./limits.ts";
export type { LimitName, LimitRow, LimitValues, InProcessLimits } from "./limits.ts";
export { startAdmin } from "./admin.ts";
export type { AdminServer } from "./admin.ts";
export { prometheusText } from "./prometheus.ts";
export type { MetricsSource } from "./prometheus.ts";
export { CliError } from "./errors.ts";
export type { CliErrorCode } from "./errors.ts";
export { workerFromModule, installWorkerGlobals } from "./worker-module.ts";
export { withAssets } from "./auxiliary-workers.ts";
/** @internal service bindings and `ctx.exports` of a Worker (for @torpor/testing's vitest plugin). */
export { serviceEnv, UNNAMED } from "./auxiliary-workers.ts";
/** @internal */
export { entrypointExports, serviceTarget } from "./worker-module.ts";
/** @internal */
export { ServiceRegistry } from "./service-binding.ts";
export type { ServiceBindingConfig } from "./config.ts";
export { defaultModuleRules, matchModuleRule, moduleSource, removedRuleMessage } from "./module-rules.ts";
export type { ModuleRules, ModuleRule, ModuleMatcher, ModuleRuleType } from "./module-rules.ts";
export type { LoadedWorker } from "./worker-module.ts";
/** @internal sets what `import { env, exports } from "cloudflare:workers"` reflect (for @torpor/testing's vitest plugin). */
export { setWorkerEnv, setWorkerExports } from "@torpor/core";
