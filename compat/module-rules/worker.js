// Imports one file of each module type and answers what the imports are.
import wasm from "./add.wasm";
import data from "./data.bin";
import text from "./hello.txt";
import page from "./page.html";
import readme from "./readme.md";

export default {
  async fetch() {
    const instance = await WebAssembly.instantiate(wasm);
    return Response.json({
      text: [typeof text, text],
      html: [typeof page, page],
      markdown: [typeof readme, readme],
      data: [Object.prototype.toString.call(data), [...new Uint8Array(data)]],
      wasm: [wasm instanceof WebAssembly.Module, WebAssembly.Module.exports(wasm), instance.exports.add(2, 3)],
    });
  },
};
