// Compiles the addon at install (node-gyp, which npm and pnpm put on the PATH of install scripts, with Node's
// headers: nodedir in the npm config, or downloaded by node-gyp). A machine without a C compiler cannot; the
// install still succeeds, and Torpor falls back: `torpor start` moves a reload's sockets over Node's IPC, one
// at a time, and idle collections leave glibc's heaps untrimmed (it says so in one line when it starts).
// TORPOR_NATIVE_REQUIRED=1 makes a failed build fail the install instead (CI sets it).
import { spawnSync } from "node:child_process";

const run = spawnSync("node-gyp", ["rebuild"], { stdio: "inherit", cwd: import.meta.dirname });
if (run.status !== 0) {
  const why = run.error !== undefined ? run.error.message : `node-gyp exited with ${run.status ?? run.signal}`;
  process.stderr.write(
    `@torpor/native was not built (${why}): a reload will move sockets one at a time, and freed native memory is given back only from the top of each heap (needs python3, make and a C compiler).\n`,
  );
  if (process.env.TORPOR_NATIVE_REQUIRED === "1") process.exit(1);
}
