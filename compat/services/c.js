import { env as importedEnv } from "cloudflare:workers";

export default {
  async fetch(request, env) {
    return new Response(`c ${new URL(request.url).pathname} ${env.WHO} ${importedEnv.WHO}`);
  },
  notRpc() {
    return "never";
  },
};
