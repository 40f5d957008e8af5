/**
 * workerd's SQL rules for any SQLite database, not only an object's: how a
 * query string splits into statements and which statements are refused
 * (transactions, `_cf_` names, ATTACH, pragmas outside workerd's list), how
 * JavaScript values bind, and how SQLite's errors are worded. `ctx.storage.sql`
 * uses them; so does D1 in `@torpor/bindings`, which Miniflare runs on a
 * Durable Object's SQL API, so its rules and errors are these.
 */
export { bindingsFor, convertBindings, parse as parseStatements, sqlError } from "./sql-storage.ts";
export { splitStatements, type ParsedStatement } from "./sql-statements.ts";
