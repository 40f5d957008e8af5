// DurableObjectNamespace ids: idFromString's conversion and validation, get()
// with a non-id, idFromName with a non-string. Run in the Worker's fetch.
import { attempt } from "./capture.js";

/** What each call did; a returned id is described by whether it round-trips, never by its (random) value. */
export function idCases(ns) {
  const own = ns.newUniqueId();
  const described = (fn) => {
    const result = attempt(() => {
      const id = fn();
      return { hexLength: id.toString().length, lowercase: id.toString() === id.toString().toLowerCase(), equalsOwn: id.equals(own), name: id.name ?? null };
    });
    return result;
  };
  const fromString = (value) => described(() => ns.idFromString(value));
  return {
    empty: fromString(""),
    short: fromString("0".repeat(63)),
    long: fromString("0".repeat(65)),
    nonHex: fromString("g".repeat(64)),
    number: fromString(42),
    undefinedValue: fromString(undefined),
    objectToString: fromString({ toString: () => "x" }),
    own: fromString(own.toString()),
    ownUppercase: fromString(own.toString().toUpperCase()),
    // workerd's ids carry a MAC of the namespace (docs/compatibility.md): these differ on purpose.
    zeros: fromString("0".repeat(64)),
    uppercaseA: fromString("A".repeat(64)),
    getString: attempt(() => ns.get("abc")),
    getObject: attempt(() => ns.get({})),
    nameNumber: described(() => ns.idFromName(5)),
    nameNumberSameAsString: attempt(() => ns.idFromName(5).equals(ns.idFromName("5"))),
  };
}
