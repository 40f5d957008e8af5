import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { findConfig, parseConfig, validateConfig } from "./config.ts";
import { CliError } from "./errors.ts";

const minimal = {
  main: "src/index.ts",
  compatibility_date: "2025-06-01",
  durable_objects: { bindings: [{ name: "ROOMS", class_name: "Room" }] },
  migrations: [{ tag: "v1", new_sqlite_classes: ["Room"] }],
};

function errorOf(fn: () => unknown): CliError {
  try {
    fn();
  } catch (error) {
    if (error instanceof CliError) return error;
    throw error;
  }
  throw new Error("expected a CliError");
}

describe("compatibility flags", () => {
  it("warns once, naming every flag Torpor does not know; flags it honours or always has are quiet", () => {
    const config = validateConfig(
      {
        ...minimal,
        compatibility_flags: [
          "nodejs_compat",
          "web_socket_auto_reply_to_close",
          "web_socket_manual_reply_to_close",
          "no_such_flag",
          "streams_enable_constructors",
        ],
      },
      "/app/wrangler.json",
    );
    expect(config.compatibilityFlags).toContain("no_such_flag");
    expect(config.warnings).toEqual([
      'wrangler.json: compatibility flags "no_such_flag", "streams_enable_constructors" are not known to Torpor and change nothing (the flags it honours are listed in docs/compatibility.md).',
    ]);
    expect(validateConfig({ ...minimal, compatibility_flags: ["nodejs_compat"] }, "/app/wrangler.json").warnings).toEqual([]);
  });
});

describe("parseConfig", () => {
  it("reads JSONC with comments and trailing commas, resolving main against the config's directory", () => {
    const config = parseConfig(
      `// comment\n{\n  "main": "src/index.ts", /* inline */\n  "compatibility_date": "2025-06-01",\n  "vars": { "A": "1", "N": 2, },\n  "durable_objects": { "bindings": [{ "name": "ROOMS", "class_name": "Room" },] },\n  "migrations": [{ "tag": "v1", "new_sqlite_classes": ["Room"] }],\n}\n`,
      "/app/wrangler.jsonc",
    );
    expect(config).toMatchObject({
      main: "/app/src/index.ts",
      compatibilityDate: "2025-06-01",
      vars: { A: "1", N: 2 },
      bindings: [{ name: "ROOMS", className: "Room" }],
      warnings: [],
    });
  });

  it("reads TOML", () => {
    const config = parseConfig(
      `main = "worker.js"\ncompatibility_date = "2025-06-01"\n\n[vars]\nGREETING = "hi"\n\n[[durable_objects.bindings]]\nname = "ROOMS"\nclass_name = "Room"\n\n[[migrations]]\ntag = "v1"\nnew_sqlite_classes = ["Room"]\n\n[torpor]\nhibernate_after_ms = 500\nmax_attachment_bytes = 4096\n`,
      "/app/wrangler.toml",
    );
    expect(config).toMatchObject({
      main: "/app/worker.js",
      vars: { GREETING: "hi" },
      bindings: [{ name: "ROOMS", className: "Room" }],
      torpor: { hibernateAfterMs: 500, maxAttachmentBytes: 4096 },
      warnings: [],
    });
  });

  it("reports a JSON syntax error with file, line and column", () => {
    const error = errorOf(() => parseConfig(`{\n  "main": "a.js"\n  "vars": {}\n}`, "/app/wrangler.jsonc"));
    expect(error.code).toBe("ERR_CONFIG_SYNTAX");
    expect(error.message).toBe("wrangler.jsonc:3:3: invalid JSON: comma expected.");
  });

  it("reports a TOML syntax error with file, line and column", () => {
    const error = errorOf(() => parseConfig(`main = "a.js"\nvars = {\n`, "/app/wrangler.toml"));
    expect(error.code).toBe("ERR_CONFIG_SYNTAX");
    expect(error.message).toMatch(/^wrangler\.toml:\d+:\d+: invalid TOML: /);
  });

  it("reads the server limits from the torpor section; ping_interval_ms may be 0", () => {
    const torpor = {
      max_connections: 5,
      max_header_bytes: 2048,
      headers_timeout_ms: 500,
      max_request_body_bytes: 1000,
      max_buffered_bytes: 65536,
      ping_interval_ms: 0,
    };
    expect(validateConfig({ ...minimal, torpor }, "/w.json").torpor).toMatchObject({
      maxConnections: 5,
      maxHeaderBytes: 2048,
      headersTimeoutMs: 500,
      maxRequestBodyBytes: 1000,
      maxBufferedBytes: 65536,
      pingIntervalMs: 0,
    });
    expect(errorOf(() => validateConfig({ ...minimal, torpor: { max_connections: 0 } }, "/w.json")).message).toMatch(/"torpor.max_connections"/);
  });

  it("names the offending key of an invalid config, once", () => {
    const error = errorOf(() => validateConfig({ ...minimal, durable_objects: { bindings: [{ name: "ROOMS", class_name: 5 }] } }, "/app/wrangler.json"));
    expect(error.code).toBe("ERR_CONFIG_INVALID");
    expect(error.message).toBe('wrangler.json: "durable_objects.bindings[0].class_name" Invalid input: expected string, received number.');
    expect(errorOf(() => validateConfig({ ...minimal, compatibility_date: "June" }, "/w.json")).message).toMatch(/"compatibility_date" must be a date like/);
    expect(errorOf(() => validateConfig({ ...minimal, torpor: { max_attachment_bytes: 99_999 } }, "/w.json")).message).toMatch(
      /"torpor.max_attachment_bytes" must be at most 16384/,
    );
    expect(errorOf(() => validateConfig({ ...minimal, torpor: { hibernate_after: 1 } }, "/w.json")).message).toMatch(/torpor/);
    expect(errorOf(() => validateConfig([], "/w.json")).message).toBe("w.json: the top level must be an object of settings.");
  });

  it("refuses a repeated binding name and a binding to a deleted class", () => {
    const twice = {
      ...minimal,
      durable_objects: {
        bindings: [
          { name: "A", class_name: "Room" },
          { name: "A", class_name: "Room" },
        ],
      },
    };
    expect(errorOf(() => validateConfig(twice, "/w.json")).message).toMatch(/repeats the binding name "A"/);
    const deleted = { ...minimal, migrations: [...minimal.migrations, { tag: "v2", deleted_classes: ["Room"] }] };
    expect(errorOf(() => validateConfig(deleted, "/w.json")).message).toMatch(/"Room", which migration "v2" deletes/);
  });

  it("warns about each unknown or unsupported key by name, and accepts deploy-only keys silently", () => {
    const config = validateConfig(
      {
        ...minimal,
        name: "app",
        account_id: "x",
        routes: [],
        queues: {},
        tail_consumers: [],
        typo_key: 1,
        durable_objects: { bindings: [{ name: "ROOMS", class_name: "Room", script_name: "other" }] },
        migrations: [{ tag: "v1", new_sqlite_classes: ["Room"], transferred_classes: [] }],
      },
      "/app/wrangler.json",
    );
    expect(config.warnings).toEqual([
      'wrangler.json: "queues" is ignored: Queues are not provided yet (they come next; see "Queues and Workflows" in docs/compatibility.md).',
      'wrangler.json: unknown key "typo_key" is ignored.',
      'wrangler.json: "durable_objects.bindings[0].script_name" is ignored: objects of other Workers are not reachable; "Room" is looked up in this Worker\'s entry.',
      'wrangler.json: "migrations[0].transferred_classes" is ignored: there are no other Workers to transfer from.',
    ]);
  });

  it("prints one line each for Queues and Workflows, naming the bindings that stay undefined and what never runs", () => {
    const config = validateConfig(
      {
        ...minimal,
        queues: {
          producers: [
            { binding: "JOBS", queue: "jobs" },
            { binding: "MAIL", queue: "mail" },
          ],
          consumers: [{ queue: "jobs", max_batch_size: 10 }],
        },
        workflows: [{ name: "signup", binding: "SIGNUP", class_name: "SignupFlow" }],
      },
      "/app/wrangler.jsonc",
    );
    expect(config.warnings).toEqual([
      'wrangler.jsonc: "queues" is ignored: Queues are not provided yet (they come next; see "Queues and Workflows" in docs/compatibility.md): env.JOBS, env.MAIL are undefined, and the queue() handler never runs for "jobs".',
      'wrangler.jsonc: "workflows" is ignored: Workflows are not provided (see "Queues and Workflows" in docs/compatibility.md): env.SIGNUP is undefined and SignupFlow never runs.',
    ]);
    expect(validateConfig({ ...minimal, queues: {}, workflows: [] }, "/w.toml").warnings).toEqual([
      'w.toml: "queues" is ignored: Queues are not provided yet (they come next; see "Queues and Workflows" in docs/compatibility.md).',
      'w.toml: "workflows" is ignored: Workflows are not provided (see "Queues and Workflows" in docs/compatibility.md).',
    ]);
  });

  it("reads kv_namespaces as Cloudflare documents them, with one line per key that has no effect", () => {
    const config = validateConfig(
      {
        ...minimal,
        kv_namespaces: [
          { binding: "CACHE", id: "0f2ac74b498b48028cb68387c421e279", preview_id: "p" },
          { binding: "SESSIONS", remote: true, tyop: 1 },
        ],
      },
      "/app/wrangler.jsonc",
    );
    expect(config.bindingConfig).toEqual({
      kv_namespaces: [
        { binding: "CACHE", id: "0f2ac74b498b48028cb68387c421e279", preview_id: "p" },
        { binding: "SESSIONS", remote: true, tyop: 1 },
      ],
    });
    expect(config.warnings).toEqual([
      'wrangler.jsonc: "kv_namespaces[1].remote" is ignored: SESSIONS is kept locally, under the data directory.',
      'wrangler.jsonc: unknown key "kv_namespaces[1].tyop" is ignored.',
    ]);
    expect(errorOf(() => validateConfig({ ...minimal, kv_namespaces: [{ id: "x" }] }, "/w.json")).message).toBe(
      'w.json: "kv_namespaces[0].binding" Invalid input: expected string, received undefined.',
    );
    expect(errorOf(() => validateConfig({ ...minimal, kv_namespaces: [{ binding: "ROOMS", id: "x" }] }, "/w.json")).message).toBe(
      'w.json: "kv_namespaces" binds the name "ROOMS", which another binding already uses; each binding needs its own name.',
    );
    expect(errorOf(() => validateConfig({ ...minimal, kv_namespaces: { binding: "KV" } }, "/w.json")).code).toBe("ERR_CONFIG_INVALID");
  });

  it("reads services as Cloudflare documents them: binding, service, entrypoint; one line per key that has no effect", () => {
    const config = validateConfig(
      {
        ...minimal,
        name: "front",
        services: [
          { binding: "API", service: "api" },
          { binding: "ADMIN", service: "api", entrypoint: "AdminEntrypoint", environment: "production" },
        ],
      },
      "/app/wrangler.jsonc",
    );
    expect(config.name).toBe("front");
    expect(config.services).toEqual([
      { binding: "API", service: "api", entrypoint: undefined },
      { binding: "ADMIN", service: "api", entrypoint: "AdminEntrypoint" },
    ]);
    expect(config.warnings).toEqual(['wrangler.jsonc: "services[1].environment" is ignored: named environments are not supported.']);
    expect(errorOf(() => validateConfig({ ...minimal, services: [{ binding: "ROOMS", service: "x" }] }, "/w.json")).message).toBe(
      'w.json: "services[0].binding" binds the name "ROOMS", which another binding already uses; each binding needs its own name.',
    );
    expect(errorOf(() => validateConfig({ ...minimal, services: [{ binding: "A" }] }, "/w.json")).message).toBe(
      'w.json: "services[0].service" Invalid input: expected string, received undefined.',
    );
  });

  it("reads d1_databases as Cloudflare documents them", () => {
    const entry = {
      binding: "DB",
      database_name: "app",
      database_id: "0b7a5c6e",
      migrations_dir: "db",
      migrations_table: "mig",
      migrations_pattern: "db/*.sql",
    };
    const config = validateConfig({ ...minimal, d1_databases: [entry, { binding: "OTHER", remote: true }] }, "/app/wrangler.jsonc");
    expect(config.bindingConfig).toEqual({ d1_databases: [entry, { binding: "OTHER", remote: true }] });
    expect(config.warnings).toEqual(['wrangler.jsonc: "d1_databases[1].remote" is ignored: OTHER is kept locally, under the data directory.']);
    expect(errorOf(() => validateConfig({ ...minimal, d1_databases: [{ binding: "DB", database_id: 5 }] }, "/w.json")).message).toBe(
      'w.json: "d1_databases[0].database_id" Invalid input: expected string, received number.',
    );
  });

  it("reads r2_buckets as Cloudflare documents them", () => {
    const config = validateConfig(
      { ...minimal, r2_buckets: [{ binding: "FILES", bucket_name: "uploads", preview_bucket_name: "p", jurisdiction: "eu" }] },
      "/w.jsonc",
    );
    expect(config.bindingConfig).toEqual({ r2_buckets: [{ binding: "FILES", bucket_name: "uploads", preview_bucket_name: "p", jurisdiction: "eu" }] });
    expect(config.warnings).toEqual(['w.jsonc: "r2_buckets[0].jurisdiction" is ignored: there is one location.']);
  });

  it("follows migrations: renames carry the class, a bound class without a migration is a warning", () => {
    const renamed = validateConfig(
      {
        ...minimal,
        durable_objects: { bindings: [{ name: "ROOMS", class_name: "Lobby" }] },
        migrations: [...minimal.migrations, { tag: "v2", renamed_classes: [{ from: "Room", to: "Lobby" }] }],
      },
      "/w.json",
    );
    expect(renamed.warnings).toEqual([]);
    const missing = validateConfig({ ...minimal, migrations: [] }, "/w.json");
    expect(missing.warnings).toEqual([
      `w.json: no migration creates "Room" (bound as ROOMS); Cloudflare requires one: add { "tag": "v1", "new_sqlite_classes": ["Room"] } to "migrations".`,
    ]);
  });
});

describe("findConfig", () => {
  let dir = "";
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("prefers wrangler.jsonc, then wrangler.json, then wrangler.toml; null when none", () => {
    dir = mkdtempSync(join(tmpdir(), "torpor-cli-config-"));
    expect(findConfig(undefined, dir)).toBeNull();
    writeFileSync(join(dir, "wrangler.toml"), "");
    expect(findConfig(undefined, dir)).toBe(join(dir, "wrangler.toml"));
    writeFileSync(join(dir, "wrangler.json"), "{}");
    expect(findConfig(undefined, dir)).toBe(join(dir, "wrangler.json"));
    writeFileSync(join(dir, "wrangler.jsonc"), "{}");
    expect(findConfig(undefined, dir)).toBe(join(dir, "wrangler.jsonc"));
    expect(errorOf(() => findConfig("missing.toml", dir)).code).toBe("ERR_CONFIG_NOT_FOUND");
  });
});
