// What wrangler's module rules make of these imports (as in @cloudflare/workers-types' docs).
declare module "*.txt" {
  const text: string;
  export default text;
}
declare module "*.wasm" {
  const module: WebAssembly.Module;
  export default module;
}
declare module "*.bin" {
  const data: ArrayBuffer;
  export default data;
}
