// Turns what an API call did into plain JSON, the same way on both runtimes:
// a value (described with its type), a synchronous throw, or a rejection. An
// error is described by its constructor, name and message, plus `code` for a
// DOMException (whose numeric code is part of its identity); the `code` a
// Torpor error carries as an extra is left out on purpose (workerd has none).

/** The JSON shape of an error: { ctor, name, message[, code] }. */
export function errorOf(error) {
  if (error === null || typeof error !== "object") return { thrownNonError: show(error) };
  const out = { ctor: error.constructor?.name, name: error.name, message: error.message };
  if (typeof DOMException === "function" && error instanceof DOMException) out.code = error.code;
  return out;
}

/** Runs `fn`: { ok: true, value } or { ok: false, ...errorOf }. */
export function attempt(fn) {
  try {
    return { ok: true, value: show(fn()) };
  } catch (error) {
    return { ok: false, ...errorOf(error) };
  }
}

/**
 * Runs `fn` and awaits what it returns. A synchronous throw is marked
 * `sync: true`, so a rejection and a throw are told apart.
 */
export async function attemptAsync(fn) {
  let result;
  try {
    result = fn();
  } catch (error) {
    return { ok: false, sync: true, ...errorOf(error) };
  }
  const isPromise = result instanceof Promise;
  try {
    return { ok: true, promise: isPromise, value: show(await result) };
  } catch (error) {
    return { ok: false, ...errorOf(error) };
  }
}

/** A JSON description of a value that keeps the types JSON would lose. */
export function show(value) {
  if (value === undefined) return { undefined: true };
  if (value === null) return null;
  switch (typeof value) {
    case "number":
      return Number.isFinite(value) ? value : { number: String(value) };
    case "bigint":
      return { bigint: String(value) };
    case "string":
    case "boolean":
      return value;
    case "function":
      return { function: true };
    case "symbol":
      return { symbol: String(value) };
  }
  if (value instanceof Date) return { date: value.getTime() };
  if (value instanceof Map) return { map: [...value].map(([k, v]) => [show(k), show(v)]) };
  if (value instanceof Set) return { set: [...value].map(show) };
  if (value instanceof ArrayBuffer) return { arrayBuffer: [...new Uint8Array(value)] };
  if (ArrayBuffer.isView(value)) return { [value.constructor.name]: [...new Uint8Array(value.buffer, value.byteOffset, value.byteLength)] };
  if (value instanceof Error) return { error: errorOf(value) };
  if (Array.isArray(value)) return value.map(show);
  const proto = Object.getPrototypeOf(value);
  const out = {};
  for (const [k, v] of Object.entries(value)) out[k] = show(v);
  if (proto !== Object.prototype && proto !== null) return { instanceOf: proto?.constructor?.name ?? null, fields: out };
  return out;
}

/** Runs [label, fn] pairs one after another (each awaited), recording each outcome. */
export async function runCases(cases) {
  const out = {};
  for (const [label, fn] of cases) out[label] = await attemptAsync(fn);
  return out;
}
