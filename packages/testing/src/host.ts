import { TorporError, hostOf, type DurableObjectStub, type HostControl } from "@torpor/core";

/** An object's host as the testing package drives it: core's narrow control interface, never its records. */
export type ObjectHost = HostControl;

/** Anything that names one object: a stub (from any runtime) or, with a runtime, an id. */
export type StubLike = Pick<DurableObjectStub, "id">;

/** The host behind `stub`, with an error that says what to pass instead. */
export function hostFromStub(stub: StubLike): ObjectHost {
  const host = typeof stub === "object" && stub !== null ? hostOf(stub) : undefined;
  if (host === undefined) {
    throw new TorporError(
      "ERR_UNKNOWN_OBJECT",
      "Expected a Durable Object stub (env.BINDING.get(id) or getByName(name)) from a Torpor runtime. For a bare id, use the verbs of createTestRuntime(), which know the runtime.",
    );
  }
  return host;
}
