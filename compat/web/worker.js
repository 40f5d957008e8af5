// The web APIs probe: each route runs its cases and answers their observations
// as JSON. Runs unchanged on workerd (miniflare) and on torpor dev.
import { cacheCases } from "./cache-cases.js";
import { htmlRewriterCases } from "./html-rewriter-cases.js";

const ROUTES = { "/html-rewriter": htmlRewriterCases, "/cache": cacheCases };

export default {
  async fetch(request) {
    const cases = ROUTES[new URL(request.url).pathname];
    if (cases === undefined) return new Response("no such route", { status: 404 });
    const out = {};
    for (const [label, run] of Object.entries(cases)) {
      try {
        const result = await run();
        out[label] = result === undefined ? "undefined" : result;
      } catch (error) {
        out[label] = { threw: error?.constructor?.name, message: error?.message };
      }
    }
    return Response.json(out);
  },
};
