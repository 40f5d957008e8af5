// The cluster seam of @torpor/core (`@torpor/core/cluster`): what the CLI's
// supervisor and workers use to route calls and move sockets. Not user API.
export { SLOT_COUNT, slotOf } from "./slots.ts";
export type { HostDirectory, RemoteHosts } from "./host-directory.ts";
export { RoutedObject } from "./routed-object.ts";
export { handoffWebSocket, handoffOf, type UpgradeHandoff } from "./upgrade-handoff.ts";
export { detachSocket, stopReading, unparsedBytes, written } from "./ws-handoff.ts";
export { stubFetch as fetchHost, rpc as callHost, readProperty as readHost } from "../stub.ts";
export { hexFromName } from "../id.ts";
export { SocketEnd, OPEN } from "../socket-end.ts";
export { endOf } from "../web-socket.ts";
export type { ObjectHost } from "../object-host.ts";
export { webSocketOf } from "../response.ts";
export type { StoredAttachment } from "../attachment.ts";
