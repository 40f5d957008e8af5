// HTMLRewriter cases: what handlers see and what the rewritten body is.

/** The rewritten body of `html` through `rewriter`. */
const rewrite = (rewriter, html, init) => rewriter.transform(new Response(html, init)).text();

export const htmlRewriterCases = {
  "element: attributes, names": async () => {
    let seen;
    await rewrite(
      new HTMLRewriter().on("p", {
        element(e) {
          seen = {
            attributes: [...e.attributes],
            namespaceURI: e.namespaceURI,
            removed: e.removed,
            tagName: e.tagName,
            has: e.hasAttribute("c"),
            get: e.getAttribute("B"),
          };
        },
      }),
      "<p B=1 c>a</p>",
    );
    return seen;
  },
  "element: attribute edits": () =>
    rewrite(
      new HTMLRewriter().on("a", {
        element(e) {
          e.setAttribute("href", '/new?a=1&b="2"');
          e.removeAttribute("target");
          e.setAttribute("data-x", "");
        },
      }),
      '<a href="/old" target="_blank">link</a>',
    ),
  "element: content edits": () =>
    rewrite(
      new HTMLRewriter()
        .on("#before", { element: (e) => void e.before("<b>b</b>", { html: true }).after("<i>after</i>") })
        .on("#inner", { element: (e) => void e.prepend("[").append("]").setInnerContent("<u>new</u>", { html: true }) })
        .on("#replace", { element: (e) => void e.replace("<s>r</s>", { html: true }) })
        .on("#remove", { element: (e) => void e.remove() })
        .on("#keep", { element: (e) => void e.removeAndKeepContent() }),
      '<div id="before">1</div><div id="inner">2</div><div id="replace">3</div><div id="remove">4</div><div id="keep"><em>5</em></div>',
    ),
  "element: tagName set": () => rewrite(new HTMLRewriter().on("p", { element: (e) => void (e.tagName = "div") }), "<p>a</p>"),
  "element: end tag": () =>
    rewrite(
      new HTMLRewriter().on("p", {
        element(e) {
          e.onEndTag((end) => {
            end.before("<em>!</em>", { html: true });
            end.after("?");
            end.name = "q";
          });
        },
      }),
      "<p>a</p>",
    ),
  "element: removed flag": async () => {
    let flags;
    await rewrite(
      new HTMLRewriter().on("p", {
        element(e) {
          const before = e.removed;
          e.remove();
          flags = [before, e.removed];
        },
      }),
      "<p>a</p>",
    );
    return flags;
  },
  "text chunks": async () => {
    const chunks = [];
    const body = await rewrite(
      new HTMLRewriter().on("p", {
        text(t) {
          chunks.push([t.text, t.lastInTextNode, t.removed]);
          if (t.text === "w") t.replace("<W>");
        },
      }),
      "<p>hello <b>w</b></p>",
    );
    return { chunks, body };
  },
  comments: () => rewrite(new HTMLRewriter().on("*", { comments: (c) => void (c.text = c.text.toUpperCase()) }), "<p><!-- hi --><!--x--></p>"),
  "comment: remove, replace": () =>
    rewrite(
      new HTMLRewriter().onDocument({
        comments(c) {
          if (c.text === "a") c.remove();
          else c.replace("<b>c</b>", { html: true });
        },
      }),
      "<!--a--><!--b-->",
    ),
  "document: doctype, text, end": async () => {
    const seen = [];
    const body = await rewrite(
      new HTMLRewriter().onDocument({
        doctype: (d) => void seen.push([d.name, d.publicId, d.systemId]),
        text: (t) => void (t.text && seen.push(t.text)),
        end: (end) => void end.append("<!--end-->", { html: true }),
      }),
      '<!DOCTYPE html PUBLIC "-//W3C//DTD HTML 4.01//EN" "http://www.w3.org/TR/html4/strict.dtd"><p>x</p>',
    );
    return { seen, body };
  },
  "async handlers": () =>
    rewrite(
      new HTMLRewriter().on("p", {
        async element(e) {
          await new Promise((resolve) => setTimeout(resolve, 1));
          e.setInnerContent("<i>&</i>");
        },
      }),
      "<p>a</p><p>b</p>",
    ),
  "handler object keeps this": async () => {
    class Counter {
      count = 0;
      element() {
        this.count++;
      }
    }
    const counter = new Counter();
    await rewrite(new HTMLRewriter().on("p", counter), "<p></p><p></p><div><p></p></div>");
    return counter.count;
  },
  selectors: () =>
    rewrite(
      new HTMLRewriter()
        .on("div > p.a#b[data-x^=y]", { element: (e) => void e.setAttribute("hit1", "") })
        .on("li:nth-child(2)", { element: (e) => void e.setAttribute("hit2", "") })
        .on("li:not(.skip)", { element: (e) => void e.setAttribute("hit3", "") })
        .on("ul li:first-of-type", { element: (e) => void e.setAttribute("hit4", "") })
        .on('[lang|="en"], [title*="mid"], [title$="end"], [class~="w"]', { element: (e) => void e.setAttribute("hit5", "") }),
      '<div><p class="a" id="b" data-x="yz">x</p></div><ul><li class="skip">1</li><li>2</li></ul><i lang="en-GB"></i><i title="amidst"></i><i title="the end"></i><i class="v w"></i>',
    ),
  "several handlers, one element": () =>
    rewrite(new HTMLRewriter().on("p", { element: (e) => void e.append("1") }).on("p", { element: (e) => void e.append("2") }), "<p>x</p>"),
  "streamed in pieces": async () => {
    const pieces = ["<di", "v cla", 's="a">te', "xt</d", "iv><p>é</p>"];
    const body = new ReadableStream({
      start(controller) {
        for (const piece of pieces) controller.enqueue(new TextEncoder().encode(piece));
        controller.close();
      },
    });
    return new HTMLRewriter()
      .on("div.a", { element: (e) => void e.setAttribute("seen", "yes") })
      .transform(new Response(body))
      .text();
  },
  "response kept: status, headers": async () => {
    const r = new HTMLRewriter().transform(new Response("<p>", { status: 201, statusText: "Made", headers: { "x-y": "z", "content-length": "3" } }));
    return { status: r.status, statusText: r.statusText, headers: [...r.headers], body: await r.text() };
  },
  "null body": async () => {
    const r = new HTMLRewriter().on("p", {}).transform(new Response(null, { status: 204, headers: { "x-a": "1" } }));
    return { status: r.status, nullBody: r.body === null, headers: [...r.headers] };
  },
  "content type not looked at": () =>
    rewrite(new HTMLRewriter().on("p", { element: (e) => void e.remove() }), "<p>a</p>b", { headers: { "content-type": "application/json" } }),
  "error: unsupported selector": () => new HTMLRewriter().on("p:hover", {}),
  "error: empty selector": () => new HTMLRewriter().on("", {}),
  "error: bad attribute name": async () => {
    let caught;
    await rewrite(
      new HTMLRewriter().on("p", {
        element(e) {
          try {
            e.setAttribute("a b", "1");
          } catch (error) {
            caught = [error.constructor.name, error.message];
          }
        },
      }),
      "<p>a</p>",
    );
    return caught;
  },
  "error: transform of a non-Response": () => new HTMLRewriter().transform("<p>"),
  "error: handler throws": () =>
    rewrite(
      new HTMLRewriter().on("p", {
        element: () => {
          throw new RangeError("boom");
        },
      }),
      "<p>a</p>",
    ),
  "error: handler throws an Error": () =>
    rewrite(
      new HTMLRewriter().onDocument({
        end() {
          throw new Error("plain");
        },
      }),
      "<p>a</p>",
    ),
  "error: async handler rejects": () =>
    rewrite(
      new HTMLRewriter().on("p", {
        async element() {
          await null;
          throw new SyntaxError("later");
        },
      }),
      "<p>a</p>",
    ),
  "error: token used after its handler": async () => {
    const kept = [];
    await rewrite(new HTMLRewriter().on("p", { element: (e) => void kept.push(e) }), "<p>a</p>");
    return kept[0].getAttribute("x");
  },
  "non-UTF-8 document": async () => {
    const r = new HTMLRewriter()
      .on("p", { text: (t) => void (t.text && t.replace("é")) })
      .transform(new Response(new Uint8Array([60, 112, 62, 0xe9, 60, 47, 112, 62]), { headers: { "content-type": "text/html; charset=windows-1252" } }));
    return [...new Uint8Array(await r.arrayBuffer())];
  },
};
