import { join } from "node:path";

/**
 * A file or folder name for a binding's id (a KV namespace id, a D1 database
 * id, a bucket name): letters, digits, `_` and `-` stay, every other byte is
 * percent-encoded, so distinct ids never share a file and no id can name a
 * path outside the binding's folder.
 */
export function storageName(id: string): string {
  return Array.from(Buffer.from(id, "utf8"), (b) => {
    const c = String.fromCharCode(b);
    return /[A-Za-z0-9_-]/.test(c) ? c : `%${b.toString(16).toUpperCase().padStart(2, "0")}`;
  }).join("");
}

/** Where one binding kind keeps one id's data: `<data dir>/<kind>/<storage name><suffix>`. */
export function storagePath(dataDir: string, kind: string, id: string, suffix = ""): string {
  return join(dataDir, kind, `${storageName(id)}${suffix}`);
}
