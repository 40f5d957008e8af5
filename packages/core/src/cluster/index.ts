// The cluster seam of @torpor/core (`@torpor/core/cluster`): what the CLI's
// supervisor and workers use to route calls and move sockets. Not user API.
export { SLOT_COUNT, slotOf } from "../ids/slots.ts";
export type { HostDirectory, RemoteHosts } from "../ids/host-directory.ts";
export { handoffWebSocket, handoffOf, type UpgradeHandoff } from "../http/upgrade-handoff.ts";
export { LocalTarget } from "../stubs/local-target.ts";
export { hexFromName } from "../ids/id.ts";
export type { MovedSocket } from "../websocket/moved-socket.ts";
export type { ExportedSocket, ExportedSockets } from "../object/object-host.ts";
export type { ObjectHost } from "../object/object-host.ts";
export { acceptedUpgrade, type AcceptedUpgrade } from "../http/accepted-upgrade.ts";
export type { StoredAttachment } from "../websocket/attachment.ts";
export { IdleCollector } from "../idle-collector.ts";
export { clone as rpcClone, cloneFailed as rpcCloneFailed } from "../stubs/rpc-clone.ts";
export { type CallOptions, disposable } from "../stubs/rpc-marshal.ts";
export { disposeValue, type Invoke, pipeline, type RpcExport, type RpcOp, rpcProperty } from "../stubs/rpc-reference.ts";
export { disposeAll, importedStub, type Importer, transferIn, transferOut, type Transferred, type WireRef, type WireRefs } from "../stubs/rpc-transfer.ts";
