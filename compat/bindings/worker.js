// One Worker using the data bindings (KV, D1, R2), run unchanged on workerd
// (through miniflare) and on Torpor (through `torpor dev` on wrangler.jsonc),
// so the two can be compared (test/bindings.test.ts).
//
// Routes: GET /kv (kv-cases.js).
import { kvCases } from "./kv-cases.js";

const json = (value, status = 200) => new Response(JSON.stringify(value), { status, headers: { "content-type": "application/json" } });

export default {
  async fetch(request, env) {
    const { pathname } = new URL(request.url);
    switch (pathname) {
      case "/kv":
        return json(await kvCases(env.KV));
      default:
        return json({ error: `unknown route ${pathname}` }, 404);
    }
  },
};
