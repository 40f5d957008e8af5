// One Worker using the data bindings (KV, D1, R2), run unchanged on workerd
// (through miniflare) and on Torpor (through `torpor dev` on wrangler.jsonc),
// so the two can be compared (test/bindings.test.ts).
//
// Routes: GET /kv (kv-cases.js), GET /d1 (d1-cases.js), GET /r2 (r2-cases.js).
import { d1Cases } from "./d1-cases.js";
import { kvCases } from "./kv-cases.js";
import { r2Cases } from "./r2-cases.js";

const json = (value, status = 200) => new Response(JSON.stringify(value), { status, headers: { "content-type": "application/json" } });

export default {
  async fetch(request, env) {
    const { pathname } = new URL(request.url);
    switch (pathname) {
      case "/kv":
        return json(await kvCases(env.KV));
      case "/d1":
        return json(await d1Cases(env.DB));
      case "/r2":
        return json(await r2Cases(env.R2));
      default:
        return json({ error: `unknown route ${pathname}` }, 404);
    }
  },
};
