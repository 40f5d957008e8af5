// The Worker beside the assets: answers what no asset answers, and reads
// assets through env.ASSETS. Runs unchanged on workerd and on torpor dev.
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname === "/via-binding") {
      const asset = await env.ASSETS.fetch(new URL(url.searchParams.get("path") ?? "/style.css", request.url));
      return Response.json({ status: asset.status, type: asset.headers.get("content-type"), body: await asset.text() });
    }
    return new Response(`worker ${request.method} ${url.pathname}`, { headers: { "x-from": "worker" } });
  },
};
