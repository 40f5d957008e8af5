/**
 * `torpor reload`: signals the supervisor of the cluster that owns
 * `--persist-to` (named by cluster/supervisor.pid, checked to be that very
 * process: a stale file's pid may belong to another process by now) and
 * waits for the outcome it writes to cluster/reload.json.
 */
import { existsSync, readFileSync, watch } from "node:fs";
import { join } from "node:path";
import type { CliArgs } from "../args.ts";
import { CliError } from "../errors.ts";
import { serveSettings } from "../serve-settings.ts";
import { isRunning, readSupervisorPid } from "./pid-file.ts";

const WAIT_MS = 120_000;

export async function runReload(args: CliArgs): Promise<void> {
  const { persistTo } = serveSettings(args, process.cwd());
  const dir = join(persistTo, "cluster");
  const pidFile = join(dir, "supervisor.pid");
  const named = readSupervisorPid(dir);
  if (named === null)
    throw new CliError(
      "ERR_CLI_USAGE",
      `No running cluster for ${persistTo} (no ${pidFile}). Start one with torpor start --workers 2 or more, or pass its --persist-to.`,
    );
  const pid = named.pid;
  if (!isRunning(named))
    throw new CliError(
      "ERR_CLI_USAGE",
      `The cluster supervisor named in ${pidFile} (pid ${pid}) is not running (the file is left from a server that did not stop cleanly); nothing was signalled.`,
    );
  const status = join(dir, "reload.json");
  const before = existsSync(status) ? readFileSync(status, "utf8") : "";
  try {
    process.kill(pid, "SIGHUP");
  } catch (cause) {
    throw new CliError("ERR_CLI_USAGE", `The cluster supervisor (pid ${pid}) is not running: ${(cause as Error).message}.`, { cause });
  }
  const outcome = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      watcher.close();
      reject(new CliError("ERR_CLI_USAGE", `The supervisor (pid ${pid}) did not report the reload within ${WAIT_MS / 1000} s; see its log.`));
    }, WAIT_MS);
    const check = () => {
      const now = existsSync(status) ? readFileSync(status, "utf8") : "";
      if (now !== before && now.endsWith("\n")) {
        clearTimeout(timer);
        watcher.close();
        resolve(now);
      }
    };
    const watcher = watch(dir, check);
    check();
  });
  const result = JSON.parse(outcome) as { ok: boolean; error?: string };
  if (!result.ok) throw new CliError("ERR_RELOAD_FAILED", `Reload failed, the old workers keep serving: ${result.error}`);
  process.stdout.write(`Reloaded (supervisor pid ${pid})\n`);
}
