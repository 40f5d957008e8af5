/**
 * The one line each for Cloudflare products that a config may name but Torpor
 * does not run yet (Queues, Workflows): printed at start-up, naming what the
 * Worker will miss (which `env` bindings stay undefined, which handler or
 * class never runs), so nothing is ignored silently. docs/compatibility.md
 * ("Queues and Workflows") says what comes next.
 */

/** `queues`: `{ producers: [{ binding, queue }], consumers: [{ queue }] }`. */
export function queuesLine(raw: unknown, file: string): string {
  const producers = listOf(raw, "producers")
    .map((p) => field(p, "binding"))
    .filter((b) => b !== undefined);
  const consumers = listOf(raw, "consumers")
    .map((c) => field(c, "queue"))
    .filter((q) => q !== undefined);
  const misses = [
    producers.length > 0 ? `${producers.map((b) => `env.${b}`).join(", ")} ${producers.length === 1 ? "is" : "are"} undefined` : null,
    consumers.length > 0 ? `the queue() handler never runs for ${consumers.map((q) => `"${q}"`).join(", ")}` : null,
  ].filter((m) => m !== null);
  return `${file}: "queues" is ignored: Queues are not provided yet (they come next; see "Queues and Workflows" in docs/compatibility.md)${misses.length > 0 ? `: ${misses.join(", and ")}` : ""}.`;
}

/** `workflows`: `[{ name, binding, class_name }]`. */
export function workflowsLine(raw: unknown, file: string): string {
  const entries = Array.isArray(raw) ? raw : [];
  const named = entries.map((w) => ({ binding: field(w, "binding"), className: field(w, "class_name") })).filter((w) => w.binding !== undefined);
  const misses = named.map((w) => `env.${w.binding} is undefined${w.className !== undefined ? ` and ${w.className} never runs` : ""}`);
  return `${file}: "workflows" is ignored: Workflows are not provided (see "Queues and Workflows" in docs/compatibility.md)${misses.length > 0 ? `: ${misses.join("; ")}` : ""}.`;
}

function listOf(raw: unknown, key: string): unknown[] {
  const value = typeof raw === "object" && raw !== null ? (raw as Record<string, unknown>)[key] : undefined;
  return Array.isArray(value) ? value : [];
}

function field(entry: unknown, key: string): string | undefined {
  const value = typeof entry === "object" && entry !== null ? (entry as Record<string, unknown>)[key] : undefined;
  return typeof value === "string" ? value : undefined;
}
