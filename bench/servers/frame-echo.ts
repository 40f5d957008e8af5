// The floor under a cross-worker call (bench/lib/channel-floor.ts): a process that answers each length-prefixed
// v8.serialize frame on a Unix stream socket with a reply frame, nothing else done (no gates, no RPC layer): what two
// processes pay to exchange one message each way, as a worker's direct channel carries a call and its reply.
import { connect } from "node:net";
import { deserialize, serialize } from "node:v8";

const socket = connect(process.argv[2]!);
socket.setNoDelay(true);
let pending = Buffer.alloc(0);
socket.on("data", (chunk: Buffer) => {
  pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
  while (pending.length >= 4 && pending.length >= 4 + pending.readUInt32BE(0)) {
    const length = pending.readUInt32BE(0);
    const call = deserialize(pending.subarray(4, 4 + length)) as { rid: number };
    pending = pending.subarray(4 + length);
    const body = serialize({ t: "reply", rid: call.rid, ok: true, value: 1 });
    const head = Buffer.allocUnsafe(4);
    head.writeUInt32BE(body.byteLength, 0);
    socket.write(Buffer.concat([head, body]));
  }
});
socket.on("error", () => process.exit(0));
socket.on("close", () => process.exit(0));
