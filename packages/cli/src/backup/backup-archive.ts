/**
 * The backup file: a POSIX tar archive (ustar) of regular files, so an
 * operator can list and unpack it with `tar` too. Written and read here
 * rather than through a library: only regular files with short relative
 * paths go in, and reading checks every path against the few a backup may
 * hold before anything is written (no `..`, links or absolute paths).
 */
import { closeSync, createReadStream, mkdirSync, openSync, readSync, statSync, writeSync } from "node:fs";
import { dirname, join, relative, sep } from "node:path";
import { readdirSync } from "node:fs";
import { CliError } from "../errors.ts";

const BLOCK = 512;

/** Paths a backup may hold: its manifest, the alarm index, object databases (namespace folders are %-encoded). */
export const BACKUP_PATH = /^(?:torpor-backup\.json|do\/_alarms\.sqlite|do\/[A-Za-z0-9%_\-~!*'()]+\/[0-9a-f]{64}\.sqlite)$/;

/** Writes every file under `dir` (paths relative to it, `/`-separated) into a tar archive at `file`. */
export async function writeArchive(dir: string, file: string): Promise<void> {
  const fd = openSync(file, "w", 0o600);
  try {
    for (const path of filesUnder(dir)) {
      const size = statSync(join(dir, path)).size;
      writeSync(fd, header(path, size));
      let written = 0;
      for await (const chunk of createReadStream(join(dir, path))) {
        writeSync(fd, chunk as Buffer);
        written += (chunk as Buffer).length;
      }
      if (written !== size) throw new CliError("ERR_BACKUP_ARCHIVE", `${path} changed size while it was archived (${size} → ${written} bytes).`);
      const pad = (BLOCK - (size % BLOCK)) % BLOCK;
      if (pad > 0) writeSync(fd, Buffer.alloc(pad));
    }
    // Two zero blocks end the archive.
    writeSync(fd, Buffer.alloc(2 * BLOCK));
  } finally {
    closeSync(fd);
  }
}

/** Unpacks the archive at `file` into `dir`, refusing any entry that is not a regular file at a path a backup may hold. */
export function readArchive(file: string, dir: string): string[] {
  const fd = openSync(file, "r");
  const paths: string[] = [];
  try {
    const head = Buffer.alloc(BLOCK);
    let offset = 0;
    for (;;) {
      if (readSync(fd, head, 0, BLOCK, offset) !== BLOCK) throw damaged(file, "it ends inside an entry header");
      if (head.every((b) => b === 0)) break;
      const entry = parseHeader(head, file);
      if (!BACKUP_PATH.test(entry.path)) throw damaged(file, `it holds ${JSON.stringify(entry.path)}, which no Torpor backup holds`);
      const target = join(dir, ...entry.path.split("/"));
      mkdirSync(dirname(target), { recursive: true });
      const out = openSync(target, "wx", 0o600);
      try {
        const buffer = Buffer.alloc(Math.min(entry.size, 1 << 20));
        let done = 0;
        while (done < entry.size) {
          const n = readSync(fd, buffer, 0, Math.min(buffer.length, entry.size - done), offset + BLOCK + done);
          if (n === 0) throw damaged(file, `it ends inside ${entry.path}`);
          writeSync(out, buffer, 0, n);
          done += n;
        }
      } finally {
        closeSync(out);
      }
      paths.push(entry.path);
      offset += BLOCK + Math.ceil(entry.size / BLOCK) * BLOCK;
    }
  } finally {
    closeSync(fd);
  }
  return paths;
}

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  const walk = (at: string) => {
    for (const entry of readdirSync(at, { withFileTypes: true })) {
      const path = join(at, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.isFile()) out.push(relative(dir, path).split(sep).join("/"));
    }
  };
  walk(dir);
  // The manifest first, so `tar tf` shows what the archive is before the data.
  return out.sort((a, b) => (a === "torpor-backup.json" ? -1 : b === "torpor-backup.json" ? 1 : a < b ? -1 : 1));
}

/** A ustar header for a regular file: the directory part in `prefix` (155 bytes), the file name in `name` (100). */
function header(path: string, size: number): Buffer {
  const cut = path.length <= 100 ? -1 : path.lastIndexOf("/", path.length - 1);
  const [prefix, name] = cut === -1 ? ["", path] : [path.slice(0, cut), path.slice(cut + 1)];
  if (Buffer.byteLength(name) > 100 || Buffer.byteLength(prefix) > 155)
    throw new CliError("ERR_BACKUP_ARCHIVE", `The path ${path} is too long for the backup archive (a binding name over ~150 characters).`);
  const h = Buffer.alloc(BLOCK);
  h.write(name, 0, 100, "utf8");
  h.write("0000600\0", 100, 8, "ascii"); // mode
  h.write("0000000\0", 108, 8, "ascii"); // uid
  h.write("0000000\0", 116, 8, "ascii"); // gid
  h.write(`${size.toString(8).padStart(11, "0")}\0`, 124, 12, "ascii");
  h.write(
    `${Math.floor(Date.now() / 1000)
      .toString(8)
      .padStart(11, "0")}\0`,
    136,
    12,
    "ascii",
  );
  h.write("        ", 148, 8, "ascii"); // checksum, counted as spaces
  h.write("0", 156, 1, "ascii"); // regular file
  h.write("ustar\x0000", 257, 8, "ascii");
  h.write(prefix, 345, 155, "utf8");
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, 8, "ascii");
  return h;
}

function parseHeader(h: Buffer, file: string): { path: string; size: number } {
  const text = (start: number, length: number) => h.toString("utf8", start, start + length).replace(/\0.*$/s, "");
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : h[i]!;
  if (Number.parseInt(text(148, 8).trim(), 8) !== sum) throw damaged(file, "an entry header's checksum does not match");
  if (text(257, 5) !== "ustar") throw damaged(file, "it is not a ustar archive written by torpor backup");
  const type = text(156, 1);
  const prefix = text(345, 155);
  const path = prefix === "" ? text(0, 100) : `${prefix}/${text(0, 100)}`;
  if (type !== "0" && type !== "") throw damaged(file, `${path} is not a regular file`);
  const size = Number.parseInt(text(124, 12).trim(), 8);
  if (!Number.isSafeInteger(size) || size < 0) throw damaged(file, `${path} has no valid size`);
  return { path, size };
}

function damaged(file: string, why: string): CliError {
  return new CliError("ERR_BACKUP_ARCHIVE", `${file} is not a usable Torpor backup: ${why}.`);
}
