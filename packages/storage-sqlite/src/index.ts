export { sqliteStorage, type SqliteStorageProvider } from "./sqlite-storage.ts";
export { type SqliteStorageOptions, type ResolvedSqliteStorageOptions, type SynchronousMode } from "./options.ts";
export { SqlCursor } from "./sql-cursor.ts";
export { joinDataDir, lockDataDir, lockDataDirWhenFree, type DataDirLock } from "./data-dir-lock.ts";
