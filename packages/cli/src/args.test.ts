import { describe, expect, it } from "vitest";
import { parseCliArgs } from "./args.ts";
import { HELP } from "./help.ts";

describe("parseCliArgs", () => {
  it("parses wrangler-style flags, the entry and repeated --var", () => {
    expect(
      parseCliArgs([
        "dev",
        "src/index.ts",
        "--config",
        "w.toml",
        "--port",
        "0",
        "--ip",
        "0.0.0.0",
        "--persist-to",
        "data",
        "--var",
        "A:1",
        "--var",
        "URL:http://x",
        "--hibernate-after-ms",
        "250",
        "--max-attachment-bytes",
        "4096",
        "--max-message-bytes",
        "1024",
        "--max-live-objects",
        "10",
        "--admin-port",
        "9000",
        "--log-level",
        "warn",
      ]),
    ).toEqual({
      command: "dev",
      entry: "src/index.ts",
      config: "w.toml",
      port: 0,
      ip: "0.0.0.0",
      persistTo: "data",
      vars: { A: "1", URL: "http://x" },
      hibernateAfterMs: 250,
      maxAttachmentBytes: 4096,
      maxMessageBytes: 1024,
      maxLiveObjects: 10,
      adminPort: 9000,
      adminIp: "127.0.0.1",
      logLevel: "warn",
      watch: true,
    });
    expect(parseCliArgs(["start", "-c", "w.jsonc"])).toMatchObject({ command: "start", entry: undefined, config: "w.jsonc", port: undefined });
    // Several configs, as wrangler dev -c a -c b: the first is the Worker that serves the port.
    expect(parseCliArgs(["dev", "-c", "a.jsonc", "--config", "b.toml", "-c", "c.json"])).toMatchObject({
      config: "a.jsonc",
      moreConfigs: ["b.toml", "c.json"],
    });
  });

  it("parses the server limits; 0 turns pings off", () => {
    expect(
      parseCliArgs([
        "start",
        "--max-connections",
        "5",
        "--max-header-bytes",
        "2048",
        "--headers-timeout-ms",
        "500",
        "--max-request-body-bytes",
        "1000",
        "--max-buffered-bytes",
        "65536",
        "--ping-interval-ms",
        "0",
      ]),
    ).toMatchObject({ maxConnections: 5, maxHeaderBytes: 2048, headersTimeoutMs: 500, maxRequestBodyBytes: 1000, maxBufferedBytes: 65536, pingIntervalMs: 0 });
    expect(() => parseCliArgs(["start", "--max-connections", "0"])).toThrow("--max-connections must be at least 1");
  });

  it("gives one precise usage error per mistake", () => {
    const message = (argv: string[]) => {
      try {
        parseCliArgs(argv);
      } catch (error) {
        return (error as Error).message;
      }
      return "no error";
    };
    expect(message([])).toMatch(/^No command given/);
    expect(message(["serve"])).toBe('Unknown command "serve": use torpor dev, start, reload, backup or restore.');
    expect(message(["dev", "a.js", "b.js"])).toMatch(/Unexpected argument "b\.js"/);
    expect(message(["dev", "--port", "http"])).toBe('--port must be a number; got "http".');
    expect(message(["dev", "--port", "70000"])).toBe('--port must be 0 to 65535; got "70000".');
    expect(message(["dev", "--port=-1"])).toBe('--port must be 0 to 65535; got "-1".');
    expect(message(["start", "--admin-port=-2"])).toBe('--admin-port must be 0 to 65535; got "-2".');
    expect(message(["dev", "--port", ""])).toBe('--port must be a number; got "".');
    expect(message(["dev", "--max-attachment-bytes", "20000"])).toMatch(/at most 16384/);
    expect(message(["dev", "--log-level", "loud"])).toMatch(/debug, info, warn or error/);
    expect(message(["dev", "--var", "NOCOLON"])).toBe('--var takes KEY:VALUE; got "NOCOLON".');
    expect(message(["dev", "--bogus"])).toMatch(/Unknown option '--bogus'.*torpor --help/);
    expect(message(["start", "--workers", "0"])).toBe('--workers must be at least 1; got "0".');
    expect(message(["start", "--workers", "300"])).toBe('--workers must be at most 256 (the number of slots); got "300".');
    expect(parseCliArgs(["start", "--workers", "3"]).workers).toBe(3);
  });

  it("lists every flag in --help", () => {
    expect(parseCliArgs(["--help"]).command).toBe("help");
    expect(parseCliArgs(["dev", "-h"]).command).toBe("help");
    for (const flag of [
      "--config",
      "--port",
      "--ip",
      "--persist-to",
      "--var",
      "--hibernate-after-ms",
      "--max-attachment-bytes",
      "--max-message-bytes",
      "--max-live-objects",
      "--admin-port",
      "--admin-ip",
      "--log-level",
      "--help",
      "--version",
    ]) {
      expect(HELP).toContain(flag);
    }
  });
});
