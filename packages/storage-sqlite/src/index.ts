export { sqliteStorage, objectFilePath, type SqliteStorageProvider } from "./sqlite-storage.ts";
export type { SqliteStorageOptions, ResolvedSqliteStorageOptions, SynchronousMode } from "./options.ts";
export { SqlCursor } from "./sql-cursor.ts";
export { joinDataDir, lockDataDir, lockDataDirWhenFree, dataDirHolder, type DataDirLock, type DataDirMembership } from "./data-dir-lock.ts";
export { backupAlarmIndex, type BackupOptions, type BackupReport } from "./directory-backup.ts";
export { rebuildAlarmIndex, type RestoredObjects } from "./directory-restore.ts";
export { openSharedWal, SHARED_BUSY_TIMEOUT_MS, type SharedWalOptions } from "./shared-wal.ts";
export { isBusy } from "./sqlite-busy.ts";
