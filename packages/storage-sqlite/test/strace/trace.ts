/**
 * Runs a process under `strace -f` and reads back what it did to files and
 * sockets, in the order the kernel did it: the raw material of the
 * ack-after-fsync check (ack-check.ts) and of the power-loss replay
 * (power-loss.ts).
 *
 * strace is run with `--seccomp-bpf` (the process stops only at the traced
 * syscalls, not at every one: a loaded machine ran the traced server's
 * workload in 39 s instead of 73 s, and the first check timed out at 120 s
 * without it), `-xx` (every string and path printed as \xHH, so parsing is
 * exact), `-y` (each descriptor printed with its path), and a
 * string limit large enough for whole WAL frames. A syscall that blocks is
 * printed in two halves (`<unfinished ...>` / `<... resumed>`); each event
 * keeps the line of its entry and of its exit, so "A finished before B
 * started" is `a.exit < b.entry`.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";

/** The syscalls the checks read. */
export const TRACED = "openat,open,creat,pwrite64,pwritev,write,writev,fsync,fdatasync,ftruncate,unlink,unlinkat,rename,renameat,renameat2,mkdir,mkdirat";

/** Whether strace can run here (installed, and ptrace allowed). */
export function straceAvailable(): boolean {
  const probe = spawnSync("strace", ["-f", "-qq", "-o", "/dev/null", "true"], { stdio: "ignore" });
  return probe.status === 0;
}

/** Options of {@link spawnTraced}. */
export interface TraceOptions {
  /** Where strace writes the trace. */
  traceFile: string;
  /** `-e inject=…` expressions (fault injection by the kernel's syscall layer). */
  inject?: string[];
  env?: NodeJS.ProcessEnv;
}

/** Spawns `command args` under `strace -f`; stdout/stderr are the traced program's. */
export function spawnTraced(command: string, args: string[], options: TraceOptions): ChildProcess {
  const straceArgs = ["-f", "--seccomp-bpf", "-qq", "-y", "-xx", "-s", "1048576", "-e", `trace=${TRACED}`, "-o", options.traceFile];
  for (const inject of options.inject ?? []) straceArgs.push("-e", `inject=${inject}`);
  return spawn("strace", [...straceArgs, command, ...args], { stdio: ["ignore", "pipe", "pipe"], env: options.env ?? process.env });
}

/** One syscall, stitched from its entry and exit lines. */
export interface Syscall {
  /** Index of the line where it started (its entry). */
  entry: number;
  /** Index of the line where it returned. */
  exit: number;
  pid: number;
  name: string;
  /** The arguments as printed (strings still \x-escaped). */
  args: string;
  /** The return value: a number, or -1 with `errno` set. */
  ret: number;
  errno: string | undefined;
  /** Descriptor path from `-y` for the first argument, or undefined. */
  path: string | undefined;
}

/** A write to a regular file. */
export interface FileWrite {
  kind: "write";
  call: Syscall;
  path: string;
  offset: number;
  data: Buffer;
}

/** fsync/fdatasync of a file or directory. */
export interface FileSync {
  kind: "sync";
  call: Syscall;
  path: string;
  ok: boolean;
}

/** Bytes written to a socket (an ack frame, a response). */
export interface SocketSend {
  kind: "send";
  call: Syscall;
  data: Buffer;
}

/** A name appearing, changing size or going away. */
export interface FileMeta {
  kind: "create" | "mkdir" | "unlink" | "truncate";
  call: Syscall;
  path: string;
  /** For "truncate": the new length. */
  length?: number;
}

export type TraceEvent = FileWrite | FileSync | SocketSend | FileMeta;

const HEX = /\\x([0-9a-f]{2})/g;

/** Decodes a `-xx` string body (without quotes). */
export function unhex(body: string): Buffer {
  const bytes: number[] = [];
  for (const m of body.matchAll(HEX)) bytes.push(Number.parseInt(m[1]!, 16));
  return Buffer.from(bytes);
}

const LINE = /^(\d+)\s+(.*)$/;
const CALL = /^([a-z0-9_]+)\((.*)\)\s+=\s+(-?\d+|\?)(?:\s+([A-Z0-9_]+))?/s;
const UNFINISHED = /^([a-z0-9_]+)\((.*) <unfinished \.\.\.>$/s;
const RESUMED = /^<\.\.\. ([a-z0-9_]+) resumed>(.*)\)\s+=\s+(-?\d+|\?)(?:\s+([A-Z0-9_]+))?/s;
/** `FD<path>` with the path in \x form. */
const FD_PATH = /^-?\d+<((?:\\x[0-9a-f]{2})*)>/;
const STRING = /"((?:\\x[0-9a-f]{2})*)"/g;

/** Parses a trace file into syscalls, in the order their exits were seen. */
export function parseSyscalls(text: string): Syscall[] {
  const lines = text.split("\n");
  const pending = new Map<number, { entry: number; name: string; args: string }>();
  const calls: Syscall[] = [];
  for (let i = 0; i < lines.length; i++) {
    const m = LINE.exec(lines[i]!);
    if (m === null) continue;
    const pid = Number(m[1]);
    const rest = m[2]!;
    if (rest.startsWith("---") || rest.startsWith("+++")) continue;
    const unfinished = UNFINISHED.exec(rest);
    if (unfinished !== null) {
      pending.set(pid, { entry: i, name: unfinished[1]!, args: unfinished[2]! });
      continue;
    }
    const resumed = RESUMED.exec(rest);
    if (resumed !== null) {
      const start = pending.get(pid);
      pending.delete(pid);
      if (start === undefined) continue;
      calls.push(make(start.entry, i, pid, start.name, start.args + resumed[2]!, resumed[3]!, resumed[4]));
      continue;
    }
    const call = CALL.exec(rest);
    if (call !== null) calls.push(make(i, i, pid, call[1]!, call[2]!, call[3]!, call[4]));
  }
  return calls;
}

function make(entry: number, exit: number, pid: number, name: string, args: string, ret: string, errno: string | undefined): Syscall {
  const fd = FD_PATH.exec(args);
  return { entry, exit, pid, name, args, ret: ret === "?" ? Number.NaN : Number(ret), errno, path: fd === null ? undefined : unhex(fd[1]!).toString() };
}

function strings(args: string): Buffer[] {
  return [...args.matchAll(STRING)].map((m) => unhex(m[1]!));
}

/** The numeric arguments after the strings (pwrite64's count and offset, ftruncate's length). */
function trailingNumbers(args: string): number[] {
  const tail = args.slice(args.lastIndexOf('"') + 1);
  return [...tail.matchAll(/(?:^|,\s*)(-?\d+)/g)].map((m) => Number(m[1]));
}

const isSocket = (path: string | undefined): boolean => path !== undefined && (path.startsWith("socket:") || path.startsWith("TCP") || path.startsWith("UNIX"));
/** A path strace shows for a descriptor whose file was unlinked since it was opened. */
const DELETED = " (deleted)";

/**
 * Turns syscalls into events on files under `root` and on sockets. Writes
 * without an offset (`write`, `writev`) to a regular file under `root` are
 * refused: their position is not in the trace (SQLite and the provider only
 * use `pwrite64`).
 */
export function traceEvents(calls: Syscall[], root: string): TraceEvent[] {
  const under = (path: string | undefined): path is string => path !== undefined && (path === root || path.startsWith(`${root}/`));
  const events: TraceEvent[] = [];
  for (const call of calls) {
    const failed = call.ret < 0 || Number.isNaN(call.ret);
    switch (call.name) {
      case "pwrite64":
      case "pwritev": {
        // A file unlinked while open (a WAL SQLite deleted) is gone: what is written to it cannot survive.
        if (failed || !under(call.path) || call.path.endsWith(DELETED)) break;
        const data = Buffer.concat(strings(call.args)).subarray(0, call.ret);
        const nums = trailingNumbers(call.args);
        events.push({ kind: "write", call, path: call.path, offset: nums[nums.length - 1]!, data });
        break;
      }
      case "write":
      case "writev": {
        if (failed) break;
        if (isSocket(call.path)) events.push({ kind: "send", call, data: Buffer.concat(strings(call.args)).subarray(0, call.ret) });
        else if (under(call.path) && !call.path.endsWith(DELETED))
          throw new Error(`${call.name}() to ${call.path} (line ${call.exit + 1}): a write without an offset cannot be replayed`);
        break;
      }
      case "fsync":
      case "fdatasync":
        if (under(call.path) && !call.path.endsWith(DELETED)) events.push({ kind: "sync", call, path: call.path, ok: call.ret === 0 });
        break;
      case "openat":
      case "open":
      case "creat": {
        if (failed || (!/O_CREAT|O_TRUNC/.test(call.args) && call.name !== "creat")) break;
        // The path opened: the string argument (absolute here; the provider uses absolute paths).
        const path = strings(call.args)[0]?.toString();
        if (!under(path)) break;
        events.push({ kind: "create", call, path });
        if (/O_TRUNC/.test(call.args)) events.push({ kind: "truncate", call, path, length: 0 });
        break;
      }
      case "mkdir":
      case "mkdirat": {
        const path = strings(call.args)[0]?.toString();
        if (!failed && under(path)) events.push({ kind: "mkdir", call, path });
        break;
      }
      case "unlink":
      case "unlinkat": {
        const path = strings(call.args)[0]?.toString();
        if (!failed && under(path)) events.push({ kind: "unlink", call, path });
        break;
      }
      case "ftruncate": {
        if (failed || !under(call.path)) break;
        events.push({ kind: "truncate", call, path: call.path, length: trailingNumbers(call.args).pop()! });
        break;
      }
      case "rename":
      case "renameat":
      case "renameat2": {
        const paths = strings(call.args).map((b) => b.toString());
        if (!failed && paths.some((p) => under(p))) throw new Error(`${call.name}() under ${root} (line ${call.exit + 1}) is not modelled`);
        break;
      }
    }
  }
  // In the order each took effect (its exit); a sync's start is kept in call.entry.
  return events.sort((a, b) => a.call.exit - b.call.exit);
}

/** Reads and parses a trace file. */
export function readTrace(file: string, root: string): TraceEvent[] {
  return traceEvents(parseSyscalls(readFileSync(file, "latin1")), root);
}
