import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { memoryStorage } from "@torpor/core";
import { type ObjectStorage } from "@torpor/core/storage";
import { sqliteStorage } from "@torpor/storage-sqlite";
import { describeStorageConformance } from "../src/storage-conformance.ts";

describeStorageConformance("memoryStorage()", () => {
  let fail = false;
  const provider = memoryStorage({
    beforeCommit: () => {
      if (fail) {
        fail = false;
        throw new Error("injected commit failure");
      }
    },
  });
  return { provider, failNextCommit: (_storage: ObjectStorage) => void (fail = true) };
});

/** A real commit failure: a deferred foreign key violated at COMMIT. */
function violateDeferredForeignKey(storage: ObjectStorage): void {
  const { sql } = storage.api;
  sql.exec("CREATE TABLE IF NOT EXISTS fk_parent (id INTEGER PRIMARY KEY)");
  sql.exec("CREATE TABLE IF NOT EXISTS fk_child (pid INTEGER REFERENCES fk_parent (id) DEFERRABLE INITIALLY DEFERRED)");
  sql.exec("INSERT INTO fk_child VALUES (1)");
}

describeStorageConformance("sqliteStorage({ dir: tmp })", () => {
  const dir = mkdtempSync(join(tmpdir(), "torpor-conformance-"));
  return {
    provider: sqliteStorage({ dir, maxOpenDatabases: 2 }),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
    failNextCommit: violateDeferredForeignKey,
  };
});

describeStorageConformance('sqliteStorage({ dir: ":memory:" })', () => ({
  provider: sqliteStorage({ dir: ":memory:" }),
  failNextCommit: violateDeferredForeignKey,
}));
