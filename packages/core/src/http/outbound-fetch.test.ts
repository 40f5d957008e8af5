import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { expect, onTestFinished, test } from "vitest";
import { outboundFetch } from "./outbound-fetch.ts";

test("a proxied request with connection headers reaches the origin without them (Node's fetch alone fails on it)", async () => {
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (chunk: Buffer) => (body += chunk));
    req.on("end", () =>
      res.end(JSON.stringify({ keepAlive: req.headers["keep-alive"] ?? null, te: req.headers.te ?? null, plain: req.headers["x-plain"], body })),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  onTestFinished(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  const incoming = () =>
    new Request("http://worker.example/proxy", {
      method: "POST",
      headers: { connection: "keep-alive", "keep-alive": "timeout=5", te: "trailers", "transfer-encoding": "chunked", "x-plain": "1" },
      body: new ReadableStream({
        start(controller) {
          controller.enqueue(new TextEncoder().encode("chunk"));
          controller.close();
        },
      }),
      duplex: "half",
    } as RequestInit);
  await expect(globalThis.fetch(origin, incoming())).rejects.toThrow("fetch failed");
  const fetch = outboundFetch(globalThis.fetch);
  const response = await fetch(origin, incoming());
  expect(await response.json()).toEqual({ keepAlive: null, te: null, plain: "1", body: "chunk" });
  expect(outboundFetch(fetch)).toBe(fetch);
});
