// The rest of the hibernation API, on in-process pairs (GET /room/<name>/hibernation):
// getWebSockets order, tag merging, argument errors, auto-response limits,
// event timeouts and the misuse errors of WebSocket and its attachment.
import { attempt } from "./capture.js";

const pair = () => Object.values(new WebSocketPair());

export function hibernationCases(ctx) {
  const out = {};
  const accept = (tags) => {
    const [, server] = pair();
    ctx.acceptWebSocket(server, tags);
    return server;
  };
  const idOf = (ws) => ctx.getTags(ws).find((t) => t.startsWith("n:"));
  // Order: getWebSockets() and getWebSockets(tag), by each socket's n: tag.
  const first = accept(["n:1", "common"]);
  accept(["n:2", "common"]);
  accept(["n:3", "common", "odd"]);
  accept(["n:4", "odd"]);
  out.orderAll = ctx.getWebSockets().map(idOf);
  out.orderCommon = ctx.getWebSockets("common").map(idOf);
  out.orderOdd = ctx.getWebSockets("odd").map(idOf);
  first.close(1000);
  out.orderAfterClose = ctx.getWebSockets().map(idOf);
  out.getWebSocketsUnknown = ctx.getWebSockets("none").length;
  out.getWebSocketsNumberTag = attempt(() => ctx.getWebSockets(1).length);
  // Duplicates merged before the count; non-strings converted.
  out.elevenSame = attempt(() => ctx.getTags(accept(Array(11).fill("a"))));
  out.elevenWithOneDuplicate = attempt(() => ctx.getTags(accept([...Array.from({ length: 10 }, (_, i) => `d${i}`), "d0"])));
  out.elevenDistinct = attempt(() => accept(Array.from({ length: 11 }, (_, i) => `e${i}`)));
  out.tooLongAfterTen = attempt(() => accept([...Array.from({ length: 10 }, (_, i) => `f${i}`), "z".repeat(300)]));
  out.nonStringTags = attempt(() => ctx.getTags(accept([1, null, undefined, true])));
  out.tagsNotArray = attempt(() => accept("solo"));
  out.tagsObject = attempt(() => accept({ length: 1, 0: "x" }));
  out.tagsNull = attempt(() => ctx.getTags(accept(null)));
  out.tagOrderKept = attempt(() => ctx.getTags(accept(["z", "a", "m", "a"])));
  // Not a WebSocket.
  out.acceptNotWebSocket = attempt(() => ctx.acceptWebSocket({}));
  out.acceptNothing = attempt(() => ctx.acceptWebSocket());
  out.getTagsNotWebSocket = attempt(() => ctx.getTags({}));
  out.timestampNotWebSocket = attempt(() => ctx.getWebSocketAutoResponseTimestamp({}));
  out.timestampFresh = attempt(() => ctx.getWebSocketAutoResponseTimestamp(accept()));
  out.timestampStandard = attempt(() => {
    const [, s] = pair();
    s.accept();
    return ctx.getWebSocketAutoResponseTimestamp(s);
  });
  // Accepting the client end after the server end was accepted, and a pair's end twice.
  {
    const [client, server] = pair();
    ctx.acceptWebSocket(server);
    out.acceptOtherEnd = attempt(() => ctx.acceptWebSocket(client));
  }
  {
    const [client, server] = pair();
    server.accept();
    out.standardOtherEnd = attempt(() => client.accept());
  }
  // Auto-response pairs.
  out.pairFields = attempt(() => {
    const p = new WebSocketRequestResponsePair("ping", "pong");
    return { request: p.request, response: p.response };
  });
  out.pairNonStrings = attempt(() => {
    const p = new WebSocketRequestResponsePair(1, null);
    return { request: p.request, response: p.response };
  });
  out.pairMissingResponse = attempt(() => new WebSocketRequestResponsePair("ping"));
  out.autoRequest2048 = attempt(() => ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair("q".repeat(2048), "r")));
  out.autoRequest2049 = attempt(() => ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair("q".repeat(2049), "r")));
  out.autoResponse2049 = attempt(() => ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair("q", "r".repeat(2049))));
  out.autoRequestTwoByte1025 = attempt(() => ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair("é".repeat(1025), "r")));
  out.autoAfterFailures = attempt(() => {
    const p = ctx.getWebSocketAutoResponse();
    return p === null ? null : { request: p.request.length, response: p.response.length };
  });
  out.autoNotPair = attempt(() => ctx.setWebSocketAutoResponse("ping"));
  out.autoPlainObject = attempt(() => ctx.setWebSocketAutoResponse({ request: "a", response: "b" }));
  out.autoCleared = attempt(() => {
    ctx.setWebSocketAutoResponse();
    return ctx.getWebSocketAutoResponse();
  });
  out.autoGetIsNewObject = attempt(() => {
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair("a", "b"));
    const p = ctx.getWebSocketAutoResponse();
    return { isPair: p instanceof WebSocketRequestResponsePair, same: p === ctx.getWebSocketAutoResponse() };
  });
  // Event timeouts.
  out.timeoutDefault = attempt(() => ctx.getHibernatableWebSocketEventTimeout());
  for (const [label, value] of [
    ["1000", 1000],
    ["max", 604_800_000],
    ["overMax", 604_800_001],
    ["zero", 0],
    ["negative", -1],
    ["fraction", 1.5],
    ["string", "500"],
    ["nan", NaN],
  ]) {
    out[`timeout ${label}`] = attempt(() => {
      ctx.setHibernatableWebSocketEventTimeout(value);
      return ctx.getHibernatableWebSocketEventTimeout();
    });
  }
  out.timeoutUnset = attempt(() => {
    ctx.setHibernatableWebSocketEventTimeout();
    return ctx.getHibernatableWebSocketEventTimeout();
  });
  // WebSocket misuse.
  {
    const [, server] = pair();
    server.accept();
    out.sendNumber = attempt(() => server.send(5));
    out.sendObject = attempt(() => server.send({}));
    out.sendNothing = attempt(() => server.send());
    out.sendTypedArray = attempt(() => server.send(new Uint16Array(2)));
    out.acceptTwice = attempt(() => server.accept());
    out.serializeAttachmentStandard = attempt(() => {
      server.serializeAttachment({ s: 1 });
      return server.deserializeAttachment();
    });
  }
  out.attachmentNothing = attempt(() => {
    const ws = accept();
    ws.serializeAttachment();
    return ws.deserializeAttachment();
  });
  out.attachmentNotCloneable = attempt(() => accept().serializeAttachment({ f() {} }));
  out.attachmentWeakMap = attempt(() => accept().serializeAttachment(new WeakMap()));
  out.readyStates = (() => {
    const [client, server] = pair();
    const before = [client.readyState, server.readyState];
    server.accept();
    return { before, after: [client.readyState, server.readyState] };
  })();
  return out;
}
