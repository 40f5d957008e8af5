/**
 * Cloudflare's `RpcTarget` (exported by `cloudflare:workers`): a class whose
 * instances RPC passes by reference. Torpor's RPC copies values (structured
 * clone), so an instance can be constructed and used locally, and passing
 * one through a stub fails with ERR_RPC_CLONE instead of arriving as a copy
 * without its methods.
 */
export class RpcTarget {}
