import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath, pathToFileURL } from "node:url";
import { expect, onTestFinished, test } from "vitest";
import { connect } from "./helpers.ts";

const here = dirname(fileURLToPath(import.meta.url));
const tsx = pathToFileURL(join(dirname(createRequire(join(here, "../../../package.json")).resolve("tsx/package.json")), "dist/loader.mjs")).href;

test("an unhandled rejection in handler code is logged and the server keeps running", async () => {
  // A real process, so Node's own default (exit on unhandled rejection) is what is being overridden.
  const child = spawn(process.execPath, ["--conditions=@torpor/source", "--import", tsx, join(here, "fixtures/unhandled-rejection-server.ts")], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  onTestFinished(() => void child.kill("SIGKILL"));
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const nextLine = async () => (await lines.next()).value as string;
  const port = Number(/^listening (\d+)$/.exec(await nextLine())![1]);

  const client = await connect(`ws://127.0.0.1:${port}/C/x`);
  client.send("careless");
  expect(await client.next()).toBe("still here: careless");
  expect(await nextLine()).toBe("logged Unhandled promise rejection (the server keeps running): DataCloneError");
  client.send("again");
  expect(await client.next()).toBe("still here: again");
  expect(child.exitCode).toBeNull();
});
