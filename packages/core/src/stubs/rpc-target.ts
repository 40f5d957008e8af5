/**
 * Cloudflare's `RpcTarget` (exported by `cloudflare:workers`): a class whose
 * instances RPC passes by reference. The receiver gets a stub whose calls
 * run the instance's class members here (not its own instance properties);
 * when every stub to it is disposed, its `Symbol.dispose` method runs.
 * Across the worker processes of a cluster too (the CLI's export table);
 * to another node of several machines it fails with ERR_RPC_CLONE.
 */
export class RpcTarget {}
