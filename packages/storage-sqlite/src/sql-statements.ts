/**
 * Splits an `sql.exec` string into statements (Cloudflare runs them all and
 * returns the last one's rows) and notes what the checks before running need:
 * each statement's first keyword and every identifier it names.
 */

/** One statement of an exec string. */
export interface ParsedStatement {
  /** The statement's text, without the trailing `;`. */
  readonly text: string;
  /** The first keyword, upper-cased ("SELECT", "BEGIN", ...). */
  readonly keyword: string;
  /** Bare and quoted identifiers (and keywords), as written. */
  readonly words: readonly string[];
  /** Its parameters (`?`, `?1`, `:name`, `@name`, `$name`) outside quotes and comments, in order. */
  readonly parameters: readonly string[];
}

const WORD = /[A-Za-z0-9_$\u0080-\uffff]/;

/**
 * Splits `sql` at top-level semicolons, honouring quotes, comments and
 * trigger bodies (`CREATE TRIGGER ... BEGIN ...; ...; END`). Empty
 * statements (only whitespace or comments) are dropped.
 */
export function splitStatements(sql: string): ParsedStatement[] {
  const out: ParsedStatement[] = [];
  let start = 0;
  let words: string[] = [];
  let bareWords: string[] = [];
  let parameters: string[] = [];
  let i = 0;
  const n = sql.length;
  const finish = (end: number) => {
    if (words.length > 0) {
      out.push({ text: sql.slice(start, end).trim(), keyword: (bareWords[0] ?? "").toUpperCase(), words, parameters });
    }
    words = [];
    bareWords = [];
    parameters = [];
  };
  while (i < n) {
    const c = sql[i]!;
    if (c === "-" && sql[i + 1] === "-") {
      const nl = sql.indexOf("\n", i);
      i = nl === -1 ? n : nl + 1;
    } else if (c === "/" && sql[i + 1] === "*") {
      const close = sql.indexOf("*/", i + 2);
      i = close === -1 ? n : close + 2;
    } else if (c === "'" || c === '"' || c === "`" || c === "[") {
      const closeChar = c === "[" ? "]" : c;
      let j = i + 1;
      let text = "";
      for (;;) {
        const k = sql.indexOf(closeChar, j);
        if (k === -1) {
          text += sql.slice(j);
          j = n;
          break;
        }
        text += sql.slice(j, k);
        if (closeChar !== "]" && sql[k + 1] === closeChar) {
          text += closeChar;
          j = k + 2;
          continue;
        }
        j = k + 1;
        break;
      }
      // A quoted string is a literal, not a name; the rest are identifiers.
      if (c !== "'") words.push(text);
      else words.push("'");
      i = j;
    } else if (WORD.test(c)) {
      let j = i + 1;
      while (j < n && WORD.test(sql[j]!)) j++;
      const w = sql.slice(i, j);
      if (w[0] === "$") parameters.push(w);
      words.push(w);
      bareWords.push(w);
      i = j;
    } else if (c === ";") {
      if (inTriggerBody(bareWords)) {
        i++;
        continue;
      }
      finish(i);
      i++;
      start = i;
    } else if (c === "?" || ((c === ":" || c === "@") && i + 1 < n && WORD.test(sql[i + 1]!))) {
      let j = i + 1;
      while (j < n && (c === "?" ? /[0-9]/ : WORD).test(sql[j]!)) j++;
      parameters.push(sql.slice(i, j));
      if (words.length === 0) words.push(c);
      i = j;
    } else {
      if (words.length === 0 && /\s/.test(c)) start = i + 1;
      else if (words.length === 0) words.push(c);
      i++;
    }
  }
  finish(n);
  return out;
}

/** True while a CREATE TRIGGER statement's body has not reached its END. */
function inTriggerBody(bare: string[]): boolean {
  const u = (k: number) => (bare[k] ?? "").toUpperCase();
  if (u(0) !== "CREATE") return false;
  const t = u(1) === "TEMP" || u(1) === "TEMPORARY" ? 2 : 1;
  if (u(t) !== "TRIGGER") return false;
  // Complete once the last word before this `;` is END (after a BEGIN).
  return u(bare.length - 1) !== "END";
}

/** Keywords that control transactions, refused in `sql.exec` as on Cloudflare. */
export const TRANSACTION_KEYWORDS: ReadonlySet<string> = new Set(["BEGIN", "COMMIT", "END", "ROLLBACK", "SAVEPOINT", "RELEASE"]);

/** The first name in `statement` that uses the reserved `_cf_` prefix, if any. */
export function reservedName(statement: ParsedStatement): string | undefined {
  return statement.words.find((w) => w.length >= 4 && w.slice(0, 4).toLowerCase() === "_cf_");
}

/**
 * The pragmas workerd's authorizer lets user SQL run (src/workerd/util/sqlite.c++
 * ALLOWED_PRAGMAS, plus table_list, table_info, table_xinfo); the others,
 * e.g. journal_mode, would change how the runtime stores data. `true` means
 * the pragma takes no argument.
 */
const ALLOWED_PRAGMAS: ReadonlyMap<string, boolean> = new Map([
  ["data_version", true],
  ["page_size", true],
  ...[
    "table_list",
    "table_info",
    "table_xinfo",
    "foreign_key_check",
    "foreign_key_list",
    "index_info",
    "index_list",
    "index_xinfo",
    "quick_check",
    "optimize",
  ].map((n) => [n, false] as const),
  ...[
    "case_sensitive_like",
    "foreign_keys",
    "defer_foreign_keys",
    "ignore_check_constraints",
    "legacy_alter_table",
    "recursive_triggers",
    "reverse_unordered_selects",
  ].map((n) => [n, false] as const),
]);

/** True unless `statement` is a PRAGMA workerd refuses ("not authorized"). */
export function pragmaAllowed(statement: ParsedStatement): boolean {
  if (statement.keyword !== "PRAGMA") return true;
  const name = (statement.words[1] ?? "").toLowerCase();
  const noArgument = ALLOWED_PRAGMAS.get(name);
  if (noArgument === undefined) return false;
  return !noArgument || statement.words.length === 2;
}
