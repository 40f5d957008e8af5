import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { memoryStorage, type ObjectStorage } from "@torpor/core";
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
