import type { ObjectKey } from "../storage/storage-provider.ts";
import type { StoredAttachment } from "./attachment.ts";

/**
 * What travels with one hibernatable WebSocket that moves to another
 * process (a cluster reload): everything that survives hibernation. The TCP
 * socket and the bytes read but not yet parsed travel beside it. Made by
 * the old owner's `host.exportSockets()`, taken by the new owner's
 * `host.adoptSocket(record, socket, unparsed)`.
 */
export interface MovedSocket {
  /** The object it belongs to. */
  key: ObjectKey;
  tags: string[] | null;
  /** Serialized bytes, or a flat record kept decoded (see attachment.ts). Bytes may arrive as a plain Uint8Array. */
  attachment: StoredAttachment | Uint8Array | null;
  /** When the auto-response last answered on it (ms since epoch), 0 if never. */
  autoResponseAt: number;
  /** The subprotocol agreed at its handshake. */
  protocol: string;
}
