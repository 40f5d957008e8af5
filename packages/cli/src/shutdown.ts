import type { Logger } from "@torpor/core";

/**
 * Graceful stop on SIGTERM/SIGINT, shared by a single process and a cluster
 * supervisor: `stop` runs once (it logs what it does), then the process
 * exits 0, or 1 if stopping failed; a second signal exits at once.
 */
export function stopOnSignals(logger: Logger, stop: (signal: NodeJS.Signals) => Promise<unknown>): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn(`${signal} again: exiting without waiting`);
      process.exit(1);
    }
    stopping = true;
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
