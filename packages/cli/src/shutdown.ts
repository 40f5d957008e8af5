import type { Logger } from "@torpor/core";

/**
 * Graceful stop on SIGTERM/SIGINT, shared by a single process and a cluster
 * supervisor: `stop` runs once (it logs what it does), then the process
 * exits 0, or 1 if stopping failed; a second signal (half a second or more later) exits at once.
 */
/** Signals closer together than this are one signal delivered twice (see below). */
const DUPLICATE_MS = 500;

export function stopOnSignals(logger: Logger, stop: (signal: NodeJS.Signals) => Promise<unknown>): void {
  let stopping = false;
  let first = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    // One Ctrl-C can arrive twice: to the process group, and forwarded by a parent such as
    // `pnpm torpor dev`. A repeat within DUPLICATE_MS is that same Ctrl-C, not a second one.
    if (stopping && performance.now() - first < DUPLICATE_MS) return;
    if (stopping) {
      logger.warn(`${signal} again: exiting without waiting`);
      process.exit(1);
    }
    stopping = true;
    first = performance.now();
    stop(signal).then(
      () => {
        logger.info("Stopped");
        process.exit(0);
      },
      (error: unknown) => {
        logger.error("Shutdown failed", { error });
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
}
