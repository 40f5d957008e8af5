import { createRequire } from "node:module";
import type { DocumentHandlers, ElementHandlers, HTMLRewriter as WasmRewriter } from "html-rewriter-wasm";

/**
 * Workers' `HTMLRewriter` on lol-html (Cloudflare's streaming HTML rewriter, the
 * engine behind workerd's own) compiled to WebAssembly by `html-rewriter-wasm`.
 * That package gives the streaming parser with async handlers; this class
 * gives it workerd's Response-shaped API and errors.
 */
type WasmModule = typeof import("html-rewriter-wasm");

let wasm: WasmModule | undefined;

/** The WebAssembly module compiles on first use, so a Worker that never rewrites HTML pays nothing for it. */
function engine(): WasmModule {
  wasm ??= createRequire(import.meta.url)("html-rewriter-wasm") as WasmModule;
  return wasm;
}

/** lol-html's parse errors reach Worker code as workerd words them: a TypeError saying "Parser error: …". */
function parserError(error: unknown): unknown {
  if (error instanceof Error && error.constructor === Error) return new TypeError(`Parser error: ${error.message}`);
  return error;
}

/**
 * Streams HTML through element and document handlers, as on Cloudflare:
 * `new HTMLRewriter().on("a[href]", { element(el) { … } }).transform(response)`.
 * Handlers may be async; the body is rewritten as it is read.
 *
 * @example
 * return new HTMLRewriter()
 *   .on("title", { element: (el) => el.setInnerContent("Hello") })
 *   .transform(await fetch(request));
 */
export class HTMLRewriter {
  readonly #elements: Array<[string, ElementHandlers]> = [];
  readonly #documents: DocumentHandlers[] = [];

  /** Calls `handlers` for each element (and its comments and text) that `selector` matches. */
  on(selector: string, handlers: ElementHandlers): this {
    // workerd rejects a selector lol-html cannot parse here, not when the body is read.
    const probe = new (engine().HTMLRewriter)(() => {});
    try {
      probe.on(String(selector), {});
    } catch (error) {
      throw parserError(error);
    } finally {
      probe.free();
    }
    this.#elements.push([String(selector), handlers]);
    return this;
  }

  /** Calls `handlers` for the document's doctype, comments, text and end. */
  onDocument(handlers: DocumentHandlers): this {
    this.#documents.push(handlers);
    return this;
  }

  /** A response like `response` whose body is rewritten by the handlers as it is read (status and headers kept). */
  transform(response: Response): Response {
    if (!(response instanceof Response)) throw new TypeError("Failed to execute 'transform' on 'HTMLRewriter': parameter 1 is not of type 'Response'.");
    const init = { status: response.status, statusText: response.statusText, headers: response.headers };
    if (response.body === null) return new Response(null, init);
    const elements = [...this.#elements];
    const documents = [...this.#documents];
    let rewriter: WasmRewriter | undefined;
    // A handler's error ends the stream with that error, as on workerd. It is kept here and the
    // handler returns normally: a rejection let through the WebAssembly stack breaks the rewriter.
    let failure: { error: unknown } | undefined;
    const guard = <H extends object>(handlers: H): H => {
      const guarded: Record<string, (token: unknown) => unknown> = {};
      for (const name of ["element", "comments", "text", "doctype", "end"]) {
        const handler = (handlers as Record<string, unknown>)[name];
        if (typeof handler !== "function") continue;
        guarded[name] = (token) => {
          if (failure !== undefined) return;
          try {
            const result: unknown = handler.call(handlers, token);
            if (result instanceof Promise) return result.then(undefined, (error: unknown) => void (failure ??= { error }));
          } catch (error) {
            failure ??= { error };
          }
        };
      }
      return guarded as H;
    };
    const check = () => {
      if (failure !== undefined) throw failure.error;
    };
    const transformer: Transformer<Uint8Array, Uint8Array> & { cancel?(): void } = {
      start(controller) {
        // The sink's chunk is a view of WebAssembly memory, reused once the call returns: enqueue a copy.
        rewriter = new (engine().HTMLRewriter)((chunk) => {
          if (chunk.byteLength > 0) controller.enqueue(chunk.slice());
        });
        for (const [selector, handlers] of elements) rewriter.on(selector, guard(handlers));
        for (const handlers of documents) rewriter.onDocument(guard(handlers));
      },
      async transform(chunk) {
        try {
          await rewriter!.write(chunk);
        } catch (error) {
          release();
          throw parserError(error);
        }
        if (failure !== undefined) release();
        check();
      },
      async flush() {
        try {
          await rewriter!.end();
        } catch (error) {
          throw parserError(error);
        } finally {
          release();
        }
        check();
      },
      // A reader that gives up (a client gone) frees the WebAssembly memory too (Node 22+ calls it).
      cancel() {
        release();
      },
    };
    const stream = new TransformStream(transformer);
    const release = () => {
      rewriter?.free();
      rewriter = undefined;
    };
    return new Response(response.body.pipeThrough(stream), init);
  }
}
