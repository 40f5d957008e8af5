// A collaborative document written the way y-partyserver's README writes one:
// a hibernating YServer persisted with onLoad/onSave (here into the object's
// own storage), routed by partyserver. After each save the server tells the
// clients what it saved, with y-partyserver's custom messages.
import { routePartykitRequest } from "partyserver";
import { YServer } from "y-partyserver";
import * as Y from "yjs";

type Env = { Document: DurableObjectNamespace<Document> };

export class Document extends YServer<Env> {
  static options = { hibernate: true };
  static callbackOptions = { debounceWait: 50, debounceMaxWait: 200 };

  async onLoad() {
    const saved = await this.ctx.storage.get<Uint8Array>("document");
    if (saved !== undefined) Y.applyUpdate(this.document, saved);
  }

  async onSave() {
    await this.ctx.storage.put("document", Y.encodeStateAsUpdate(this.document));
    this.broadcastCustomMessage(JSON.stringify({ saved: this.document.getText("body").toString() }));
  }
}

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    return (await routePartykitRequest(request, env)) || new Response("Not Found", { status: 404 });
  },
} satisfies ExportedHandler<Env>;
