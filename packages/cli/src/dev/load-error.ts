/**
 * One line for a Worker that failed to load: where (file, line and column
 * of the first place in the project's own code the error names) and what,
 * without the loader's stack. esbuild (through tsx) reports TypeScript
 * syntax errors as `/path/file.ts:2:14: ERROR: Unexpected ";"`; Node reports
 * JavaScript syntax errors as `file:///path/file.js:2` above the message;
 * an error thrown while the module runs has the place in its stack.
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { relative } from "node:path";
import { fileURLToPath } from "node:url";

// An absolute path or file URL (not the `node:internal/…` of Node's own frames), then :line and maybe :column.
const PLACE = /(file:\/\/\/[^\s:()]+|(?<![\w:])\/[^\s:()]+):(\d+)(?::(\d+))?/g;

/** `src/room.ts:12:5: SyntaxError: Unexpected ";"` (the place relative to `cwd`; the message alone if no place is known). */
export function describeLoadError(text: string, cwd: string, isOwnCode: (path: string) => boolean): string {
  const esbuild = /^(\S+?):(\d+):(\d+): ERROR: (.*)$/m.exec(text);
  if (esbuild !== null) return `${relative(cwd, esbuild[1]!)}:${esbuild[2]}:${esbuild[3]}: SyntaxError: ${esbuild[4]}`;
  const what = /^((?:\w+)?Error(?: \[\w+\])?): (.*)$/m.exec(text.replace(/^.*?failed: /s, "")) ?? /^(\w*Error): (.*)$/m.exec(text);
  let where: string | null = null;
  for (const match of text.matchAll(PLACE)) {
    const path = match[1]!.startsWith("file://") ? fileURLToPath(match[1]!) : match[1]!;
    if (!isOwnCode(path)) continue;
    where = `${relative(cwd, path)}:${match[2]}${match[3] !== undefined ? `:${match[3]}` : ""}`;
    break;
  }
  const message = what !== null ? `${what[1]}: ${what[2]}` : (text.split("\n")[0] ?? text);
  return where === null ? message : `${where}: ${message}`;
}

/**
 * Node does not put the place of a JavaScript syntax error in the error's
 * stack (only its uncaught-error printer shows it), so the worker asks
 * `node --check` about the project files it loaded last, newest first, and
 * returns `path:line` of the first that does not parse, or null.
 */
export function locateSyntaxError(candidates: readonly string[]): string | null {
  for (const file of [...candidates].reverse().slice(0, 8)) {
    if (!/\.(?:m?js|jsx)$/.test(file)) continue;
    let source: Buffer;
    try {
      source = readFileSync(file);
    } catch {
      continue;
    }
    const check = spawnSync(process.execPath, ["--check", "--input-type=module"], { input: source, encoding: "utf8", timeout: 10_000 });
    const line = /^\[stdin\]:(\d+)/m.exec(check.stderr ?? "")?.[1];
    if (check.status !== 0 && line !== undefined) return `${file}:${line}`;
  }
  return null;
}
