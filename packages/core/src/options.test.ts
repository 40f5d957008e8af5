import { expect, test } from "vitest";
import { DurableObject, Runtime } from "./index.ts";

class Thing extends DurableObject {}

test.each([
  [{ objects: { A: Thing }, hibernateAfterMs: -1 }, /"hibernateAfterMs"/],
  [{ objects: { A: Thing }, limits: { maxAttachmentBytes: 20_000 } }, /"limits.maxAttachmentBytes": must be at most 16384/],
  [{ objects: { A: "nope" } }, /"objects.A": must be a Durable Object class/],
  [{ objects: { A: Thing }, storage: {} }, /"storage": must be a StorageProvider/],
  [{ objects: { A: Thing }, hibernateAfterMS: 5 }, /hibernateAfterMS/],
  [{ objects: { "not-an-identifier": Thing } }, /binding names must be JavaScript identifiers/],
])("a bad option fails at start with one precise message (%#)", (options, message) => {
  expect(() => new Runtime(options as never)).toThrow(expect.objectContaining({ code: "ERR_INVALID_OPTIONS", message: expect.stringMatching(message) }));
});

test("attachment limit is configurable up to Cloudflare's 16 KiB", () => {
  const rt = new Runtime({ objects: { A: Thing }, limits: { maxAttachmentBytes: 16_384 } });
  expect(rt.options.limits.maxAttachmentBytes).toBe(16_384);
  expect(rt.options.limits.maxTags).toBe(10);
  expect(rt.options.hibernateAfterMs).toBe(10_000);
});

test("defaults apply when no limits are given", () => {
  const rt = new Runtime({ objects: { A: Thing } });
  expect(rt.options.limits).toEqual({
    maxTags: 10,
    maxTagLength: 256,
    maxWebSocketsPerObject: 32_768,
    maxAttachmentBytes: 2_048,
    maxAutoResponseLength: 2_048,
    maxMessageBytes: 32 * 1024 * 1024,
    maxPendingEvents: 1_024,
  });
  expect(rt.options.alarmRetry).toEqual({ maxRetries: 6, initialBackoffMs: 2_000, jitter: 0.25 });
});
