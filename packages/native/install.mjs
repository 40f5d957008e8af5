// Compiles the addon at install (node-gyp, which npm and pnpm put on the PATH of install scripts, with Node's
// headers: nodedir in the npm config, or downloaded by node-gyp). A machine without a C compiler cannot; the
// install still succeeds, and `torpor start` then moves sockets on a reload over Node's IPC, one at a time,
// and says so once in its log. TORPOR_NATIVE_REQUIRED=1 makes a failed build fail the install instead.
import { spawnSync } from "node:child_process";

const run = spawnSync("node-gyp", ["rebuild"], { stdio: "inherit", cwd: import.meta.dirname });
if (run.status !== 0) {
  const why = run.error !== undefined ? run.error.message : `node-gyp exited with ${run.status ?? run.signal}`;
  process.stderr.write(
    `@torpor/fd-passing was not built (${why}): torpor start will move sockets one at a time on a reload (needs python3, make and a C compiler).\n`,
  );
  if (process.env.TORPOR_NATIVE_REQUIRED === "1") process.exit(1);
}
