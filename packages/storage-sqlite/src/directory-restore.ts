/**
 * Checks restored object databases and rebuilds the alarm index from them.
 * An object's own `alarm` (in its database) is the truth; the index only
 * lets start-up find alarms without opening every object, and a backup's
 * copy of it was taken at another moment than each object's copy. So a
 * restore makes the index list exactly the restored objects' alarms (and
 * names): every alarm is armed again when a server starts on the directory.
 */
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { TorporError } from "@torpor/core";
import { AlarmIndex } from "./alarm-index.ts";

const FILE = /^([0-9a-f]{64})\.sqlite$/;

/** What a restore found. */
export interface RestoredObjects {
  objects: number;
  alarms: number;
}

/**
 * Opens every object database under `dir` (a `do/` folder not in use),
 * checks it (`PRAGMA quick_check`), and writes the alarm index from their
 * alarms and names. Throws `ERR_BACKUP_FAILED` naming a damaged object.
 */
export function rebuildAlarmIndex(dir: string): RestoredObjects {
  const index = new AlarmIndex(join(dir, "_alarms.sqlite"), "FULL");
  let objects = 0;
  let alarms = 0;
  try {
    index.clear();
    for (const folder of existsSync(dir) ? readdirSync(dir, { withFileTypes: true }) : []) {
      if (!folder.isDirectory()) continue;
      const namespace = decodeURIComponent(folder.name);
      for (const file of readdirSync(join(dir, folder.name))) {
        const id = FILE.exec(file)?.[1];
        if (id === undefined) continue;
        const db = new Database(join(dir, folder.name, file), { fileMustExist: true });
        try {
          const check = db.pragma("quick_check", { simple: true });
          if (check !== "ok") throw new Error(String(check));
          const meta = new Map(
            (db.prepare("SELECT key, value FROM _cf_METADATA WHERE key IN ('alarm', 'name')").all() as { key: string; value: unknown }[]).map((r) => [
              r.key,
              r.value,
            ]),
          );
          const name = meta.get("name");
          const key = typeof name === "string" ? { namespace, id, name } : { namespace, id };
          if (typeof name === "string") index.setName(key, name);
          const alarm = meta.get("alarm");
          if (alarm !== undefined && alarm !== null) {
            index.setAlarm(key, Number(alarm));
            alarms++;
          }
        } catch (cause) {
          throw new TorporError("ERR_BACKUP_FAILED", `The restored object ${namespace}/${id} is damaged: ${(cause as Error).message}.`, { cause });
        } finally {
          db.close();
        }
        objects++;
      }
    }
  } finally {
    index.close();
  }
  return { objects, alarms };
}
