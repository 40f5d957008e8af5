/**
 * Where one object's database lives, opened only when needed. An object that
 * never writes gets no file: reads of an object with no file are answered by
 * an empty database shared by the provider (the same schema, never written),
 * and the file is created by the first write. This keeps visits that only
 * read (and objects that only hold WebSockets) free of files, schema writes
 * and fsyncs.
 */
import { existsSync } from "node:fs";
import { TorporError } from "@torpor/core";
import type { ObjectKey } from "@torpor/core/storage";
import type { AlarmIndex } from "./alarm-index.ts";
import { ObjectDatabase } from "./object-database.ts";
import type { SynchronousMode } from "./options.ts";
import { WalFile } from "./wal-sync.ts";

/** What the slots of one provider share. */
export interface SlotContext {
  readonly inMemory: boolean;
  /** `PRAGMA synchronous` of the object databases. */
  readonly synchronous: SynchronousMode;
  /** Commits are made durable by fsyncing the WAL here (see wal-sync.ts), not by SQLite. */
  readonly syncWal: boolean;
  readonly index: AlarmIndex;
  /** The shared empty database that answers reads of objects with no file. Never written. */
  empty(): ObjectDatabase;
}

/** @internal one object's database handle, shared by its storages while it is live. */
export class DatabaseSlot {
  /** The open database, or null while not needed (or no file exists). */
  odb: ObjectDatabase | null = null;
  refs = 0;
  /** Known to have no file (checked once per slot: one process owns the directory). */
  #absent = false;
  /** The object's name is recorded in the open database. */
  #named = false;
  /** Set when the provider makes commits durable itself. */
  readonly wal: WalFile | null;

  constructor(
    readonly where: string,
    readonly key: ObjectKey,
    readonly context: SlotContext,
  ) {
    this.wal = context.syncWal ? new WalFile(where) : null;
  }

  /** The database to read from: the object's own if it has one, else the shared empty one. */
  reader(): ObjectDatabase {
    return this.odb ?? this.#openExisting() ?? this.context.empty();
  }

  /** The object's own database, created (with its schema) on the first write. */
  writer(): ObjectDatabase {
    return this.odb ?? this.#openExisting() ?? this.#create();
  }

  /** Records the name an id was derived from (for listings), once per open database; call inside the write batch. */
  recordName(odb: ObjectDatabase): void {
    if (this.#named) return;
    this.#named = true;
    const name = this.key.name;
    if (name === undefined || odb.metaGet.get("name") !== undefined) return;
    odb.metaPut.run("name", name);
    this.context.index.setName(this.key, name);
  }

  /** Whether the object may have an alarm, without opening its database when it certainly has none. */
  mayHaveAlarm(): boolean {
    return this.odb !== null || this.context.index.hasAlarm(this.key);
  }

  close(): void {
    this.odb?.close();
    this.odb = null;
    this.#absent = false;
    this.#named = false;
  }

  #openExisting(): ObjectDatabase | null {
    if (this.#absent || this.context.inMemory) return null;
    if (!existsSync(this.where)) {
      this.#absent = true;
      return null;
    }
    this.wal?.reopened();
    return (this.odb = this.#open(this.where));
  }

  #create(): ObjectDatabase {
    this.#absent = false;
    this.wal?.reopened();
    return (this.odb = this.#open(this.context.inMemory ? ":memory:" : this.where));
  }

  /** Opens the file; a failure (disk full, out of descriptors, a corrupt file) reaches the storage call as ERR_STORAGE_OPEN. */
  #open(path: string): ObjectDatabase {
    try {
      return new ObjectDatabase(path, this.context.synchronous);
    } catch (cause) {
      const key = this.key;
      throw new TorporError(
        "ERR_STORAGE_OPEN",
        `The storage of Durable Object ${key.namespace}/${key.name ?? key.id} could not be opened: ${cause instanceof Error ? cause.message : String(cause)}`,
        { cause },
      );
    }
  }
}
