/**
 * `assets.run_worker_first`: `true` sends every request to the Worker first;
 * a list of route patterns (`/api/*`, negated with a leading `!`) sends the
 * paths that match a pattern and no negated one.
 */
export function workerFirst(setting: boolean | string[], pathname: string): boolean {
  if (typeof setting === "boolean") return setting;
  const matches = (pattern: string) => routePattern(pattern).test(pathname);
  const negated = setting.filter((p) => p.startsWith("!")).map((p) => p.slice(1));
  const positive = setting.filter((p) => !p.startsWith("!"));
  return positive.some(matches) && !negated.some(matches);
}

/** A route pattern: `*` matches any run of characters, everything else is literal. */
function routePattern(pattern: string): RegExp {
  return new RegExp(
    `^${pattern
      .split("*")
      .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, "\\$&"))
      .join(".*")}$`,
  );
}
