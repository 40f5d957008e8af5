import { TorporError } from "../errors.ts";

/**
 * The `cloudflare:*` modules Torpor provides, each mapped to the package
 * specifier that implements it. One table for every loader: the CLI's resolve
 * hook (packages/cli/bin/hooks.js mirrors it, as hooks run before TypeScript
 * can be loaded) and test integrations (an alias per entry).
 */
export const CLOUDFLARE_MODULES: Readonly<Record<string, string>> = Object.freeze({
  "cloudflare:workers": "@torpor/core/cloudflare/workers",
  "cloudflare:email": "@torpor/core/cloudflare/email",
  "cloudflare:sockets": "@torpor/core/cloudflare/sockets",
});

/**
 * The package specifier implementing a `cloudflare:*` module; throws
 * ERR_CLOUDFLARE_MODULE_NOT_PROVIDED, naming the module, for one Torpor does
 * not provide.
 */
export function resolveCloudflareModule(specifier: string): string {
  const target = CLOUDFLARE_MODULES[specifier];
  if (target === undefined) throw cloudflareModuleNotProvided(specifier);
  return target;
}

/** The one error for an import of a `cloudflare:*` module Torpor does not provide. */
export function cloudflareModuleNotProvided(specifier: string): TorporError {
  return new TorporError("ERR_CLOUDFLARE_MODULE_NOT_PROVIDED", notProvidedMessage(specifier));
}

/** Also spelled out in packages/cli/bin/hooks.js (keep them the same). */
function notProvidedMessage(specifier: string): string {
  return `The module "${specifier}" is not provided by Torpor (it provides ${Object.keys(CLOUDFLARE_MODULES).join(", ")}). Remove the import, or load it only where the code runs on Cloudflare.`;
}
