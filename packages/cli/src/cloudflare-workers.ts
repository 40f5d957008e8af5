/**
 * `cloudflare:workers` as `@torpor/cli/cloudflare-workers` (what the vitest
 * plugin maps the specifier to). The module itself lives in core
 * (`@torpor/core/cloudflare/workers`), so the CLI, tests and Worker code
 * share one `env`, one `exports` and one `DurableObject` class.
 */
export * from "@torpor/core/cloudflare/workers";
