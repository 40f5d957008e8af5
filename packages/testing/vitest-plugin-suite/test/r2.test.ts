import { env } from "cloudflare:test";
import { expect, test } from "vitest";

test("R2 from the wrangler config: put, get with a range, list", async () => {
  expect(await env.FILES.head("greeting.txt")).toBeNull();
  const put = await env.FILES.put("greeting.txt", "hello from r2", { httpMetadata: { contentType: "text/plain" } });
  expect(put.etag).toMatch(/^[0-9a-f]{32}$/);
  const part = await env.FILES.get("greeting.txt", { range: { offset: 6, length: 4 } });
  expect(await part.text()).toBe("from");
  expect(part.httpMetadata.contentType).toBe("text/plain");
  expect((await env.FILES.list()).objects.map((o: { key: string }) => o.key)).toEqual(["greeting.txt"]);
});
