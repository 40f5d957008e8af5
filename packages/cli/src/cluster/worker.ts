/**
 * A cluster worker: one process running the Worker and the objects of the
 * slots it owns. It gets client connections, routed calls, upgrades, moved
 * sockets and body chunks from the supervisor over IPC, and sends back
 * replies and the sockets of objects it gives up on a reload.
 *
 * It is a member of its server for as long as it runs (it holds the data
 * directory's member lock), and it never outlives its supervisor by more
 * than ORPHAN_EXIT_MS: when the IPC channel closes it stops taking work,
 * finishes what it can, and exits, so the next server can take the directory.
 */
import type { IncomingMessage } from "node:http";
import { closeSync } from "node:fs";
import { Socket } from "node:net";
import { DurableObjectNamespace, TorporError, WebSocketRequestResponsePair } from "@torpor/core";
import { type AcceptedUpgrade, acceptedUpgrade, LocalTarget, type ObjectHost, slotOf, type WireRefs } from "@torpor/core/cluster";
import { joinDataDir } from "@torpor/storage-sqlite";
import { runtimeChecks } from "../health.ts";
import type { CliArgs, Command } from "../args.ts";
import { type RunningWorker, serveSettings, startWorker } from "../serve.ts";
import type { RunHost } from "../main.ts";
import { fileURLToPath } from "node:url";
import { locateSyntaxError } from "../dev/load-error.ts";
import { BodyStreams } from "./body-streams.ts";
import { ORPHAN_EXIT_MS } from "./cluster-timeouts.ts";
import { ControlOrder, fromWorkerOnIpc, workerControl } from "./control-channel.ts";
import { FdChannel } from "./fd-channel.ts";
import { loadFdPassing } from "./fd-passing.ts";
import type { FrameChannel } from "./frame-channel.ts";
import { decodeFrame, Frame } from "./frame-codec.ts";
import { ClusterDirectory } from "./directory.ts";
import type { FromWorker, MovedSocket, ToWorker } from "./ipc.ts";
import { moveOut } from "./move.ts";
import { FENCED_EXIT_CODE } from "./node-fence.ts";
import type { NodeWorker } from "./node-worker.ts";
import { PeerClient } from "./peer-client.ts";
import { RpcReferences } from "./rpc-references.ts";
import { encodeRpcFrame } from "./rpc-frame.ts";
import { SocketBatches } from "./socket-batches.ts";
import { cliLogger } from "../logging.ts";
import { decodeRequest, encodeError, encodeResponse } from "./wire.ts";
import { type ChannelCall, type ChannelMessage, WorkerChannels } from "./worker-channels.ts";

/** How long an accepted upgrade waits for its socket before the object sees it dropped. */
const UPGRADE_WAIT_MS = 30_000;

/**
 * A write to a supervisor that died before this process saw its channel close (EPIPE, ECONNRESET) is dropped, as a
 * send after the close is: the 'disconnect' that follows stops this process in order. Without this callback Node
 * emits the failure as an 'error' on `process`, which nothing handles: the process would crash with its work.
 */
const dropFailedSend = (): void => {};

/** Messages without a descriptor, both ways (control-channel.ts); opened once init arrived. */
let control: FrameChannel | null = null;

/** Set while a reload moves this process's sockets out in batches: the move's messages go there (socket-batches.ts). */
let batches: SocketBatches | null = null;

const send = (message: FromWorker | Frame, handle?: unknown): void => {
  if (message instanceof Frame) {
    // A routed call or reply encoded already (it carries an RPC value): only ever sent once the control channel is open.
    if (control !== null) control.send(message);
    else send(decodeFrame(message.bytes.subarray(4)) as FromWorker);
    return;
  }
  if (batches !== null && (message.t === "socket" || message.t === "auto-response" || message.t === "released")) {
    if (message.t === "socket") batches.socket(message.moved, handle as Socket);
    else batches.send(message);
    return;
  }
  if (control !== null && !fromWorkerOnIpc(message, handle)) {
    control.send(message);
    return;
  }
  if (!process.connected) return;
  try {
    process.send!(message, handle as Socket | undefined, {}, dropFailedSend);
  } catch {
    // The channel closed meanwhile: the 'disconnect' handler stops this process.
  }
};

/** True while the supervisor that forked this process runs (a worker re-parented to init has lost it). */
function supervisorAlive(): boolean {
  return process.connected && String(process.ppid) === process.env.TORPOR_CLUSTER_SUPERVISOR;
}

/** Runs this process as a worker until the supervisor says stop (or goes away). */
export async function runWorker(args: CliArgs & { command: Command }, host: RunHost = {}): Promise<void> {
  // A supervisor that dies before it sent init leaves nothing to do.
  process.once("disconnect", () => {
    if (!started) process.exit(0);
  });
  let started = false;
  const init = await new Promise<Extract<ToWorker, { t: "init" }>>((resolve) => {
    const first = (message: ToWorker) => {
      if (message.t !== "init") return;
      process.off("message", first);
      resolve(message);
    };
    process.on("message", first);
  });
  // What arrives on the control channel waits in `order` until the handlers below exist (and each message for the IPC messages it follows).
  const order = new ControlOrder();
  control = workerControl();
  control.onMessage = (message) => order.control(message as ToWorker);
  // The descriptor channel, opened before the Worker's code runs (close-on-exec: a process it spawns must not hold
  // it); its messages are handled once this process said ready (the supervisor sends nothing there before).
  const moves = await openMoves(init.moveFd, cliLogger(args));
  // Before anything opens the data directory: no new server takes it while this process runs. Then make sure this
  // process still has a supervisor: one that died meanwhile may already have been replaced.
  const member = joinDataDir(serveSettings(args, process.cwd()).persistTo);
  if (!supervisorAlive()) process.exit(0);
  // Body chunks take the path their stream is pinned to; credits and cancels the direct channel when there is one.
  const bodies = new BodyStreams((message, direct) => {
    const { to, ...rest } = message as Extract<FromWorker, { to: number }>;
    if (direct === true || (direct === null && channels.usable(to))) {
      if (channels.send(to, rest as ChannelMessage) || direct === true) return;
    }
    send(message);
  });
  // Durable Object stubs passed in RPC values are made by the runtime, once it exists.
  let stubFor: (key: { namespace: string; id: string; name?: string }) => object = () => {
    throw new Error("The worker is not ready.");
  };
  const references = new RpcReferences({ send, durable: (key) => stubFor(key) });
  // Set once the worker runs (direct calls need its runtime); until then nothing arrives on them.
  let onDirectCall: (peer: number, message: ChannelCall) => void = (peer, message) => channels.send(peer, { t: "not-here", rid: message.rid });
  let onInvalid: (peer: number, reason: string) => void = () => {};
  const channels: WorkerChannels = new WorkerChannels({
    call: (peer, message) => onDirectCall(peer, message),
    reply: (peer, message) =>
      directory.settle(message.rid, peer, message.ok, message.ok ? message.value : message.error, message.ok ? message.refs : undefined, peer),
    notHere: (peer, rid) => directory.refused(peer, rid),
    body: (message) => bodies.onMessage(message, true),
    closed: (peer, _error, stopping) => {
      directory.channelClosed(peer);
      // A channel that closes without a bye: its process exited (or broke it), its streams are over. A stopping peer
      // closes it once its own streams were written, but what it sent through the supervisor (a body's last chunks)
      // may still be on its way there: its streams end when they do, or when the supervisor says it exited.
      if (!stopping) bodies.peerExited(peer);
    },
    invalid: (peer, reason) => onInvalid(peer, reason),
  });
  const directory = new ClusterDirectory(init.index, init.serial, send, bodies, references, channels);
  // Modules loaded, batched per turn, sent once the worker is ready (dev watches the Worker's import graph).
  const loaded: string[] = [];
  let pending: string[] | null = null;
  host.watchImports?.((url) => {
    loaded.push(url);
    if (pending === null) return;
    if (pending.length === 0) setImmediate(() => send({ t: "imports", urls: pending!.splice(0) }));
    pending.push(url);
  });
  let worker: RunningWorker;
  let node: NodeWorker | null = null;
  try {
    if (init.node !== undefined) {
      // A node of several machines: its own database connections, storage, output fence and calls to other nodes.
      // Loaded only here: the PostgreSQL client is not paid for by workers of a single machine.
      const { startNodeWorker } = await import("./node-worker.ts");
      node = await startNodeWorker(init.node, init.index, serveSettings(args, process.cwd()).persistTo, cliLogger(args));
      const current = node;
      directory.peer = new PeerClient(() => current.table);
      directory.nodeSlots = init.node.table.slots;
    }
    worker = await startWorker(args, process.cwd(), {
      index: init.index,
      directory,
      ...(node !== null ? { storage: node.storage, local: node.local } : {}),
    });
  } catch (error) {
    await node?.close().catch(() => {});
    send({ t: "failed", error: encodeError(await withSyntaxErrorPlace(error, loaded)) });
    process.disconnect();
    return;
  }
  started = true;
  const runtime = worker.runtime;
  stubFor = (key) => durableStub(runtime, key);
  references.options.onSize = (entries) => {
    runtime.metrics.rpcReferences = entries;
  };
  const logger = worker.logger;
  const parked = new Map<number, { upgrade: AcceptedUpgrade; timer: NodeJS.Timeout }>();
  let nextToken = 1;
  let stopping = false;

  /** Finishes in-flight requests and streams, then events and storage (sockets close with `code`); exits by `deadlineMs` at the latest. */
  const stop = async (deadlineMs: number, code = 1012, reason = "Server restarting") => {
    if (stopping) return;
    stopping = true;
    setTimeout(() => {
      logger.error("Did not finish within the stop deadline; exiting", { deadlineMs, code: "ERR_STOP_TIMEOUT" });
      process.exit(1);
    }, deadlineMs);
    runtime.server!.stopAccepting();
    // Direct calls arriving from now on are refused (their callers send them through the supervisor).
    channels.beginClose();
    await Promise.all([runtime.server!.idle(), bodies.idle()]);
    await worker.close(code, reason);
    // A direct call that was running when the stop began may have answered during close with a streamed body:
    // its stream started after the wait above, and ending the channels now would cut it (fault seed 2229088118).
    await bodies.idle();
    await channels.finish();
    directory.peer?.close();
    await node?.close();
    member.release();
    // The last replies and reports leave before the process does (a frame still queued would be lost at exit).
    await control?.end();
    process.exit(0);
  };
  if (node !== null) {
    const fence = node.fence;
    fence.onFence((reason) => {
      stopping = true;
      logger.error("Fencing this node: no more output; WebSockets closed with 1012; exiting", { reason });
      fence.shutDown(runtime, 200, () => process.exit(FENCED_EXIT_CODE));
    });
  }
  /** The node hands `slots` over: their objects finish their events, commit and close their sockets with 1012. */
  const drain = async (slots: Set<number>): Promise<number> => {
    for (const slot of slots) directory.owned.delete(slot);
    const hosts = runtime.hosts().filter((h) => slots.has(slotOf(h.key.id)));
    await Promise.all(hosts.map((h) => h.shutdown(1012, "Object moving to another node")));
    for (const h of hosts) runtime.forget(h);
    node?.forgetSlots(slots);
    return hosts.length;
  };
  /** Every client socket of a node is fenced: nothing leaves it after the node's deadline. */
  const guard = (socket: Socket | undefined) => {
    if (socket !== undefined) node?.fence.guard(socket);
  };
  // Signals reach the whole process group (Ctrl-C); the supervisor decides when workers stop.
  process.on("SIGINT", () => {});
  process.on("SIGTERM", () => {});
  process.on("SIGHUP", () => {});
  process.on("disconnect", () => {
    logger.warn("The supervisor exited; finishing what is in flight and exiting", { deadlineMs: ORPHAN_EXIT_MS });
    directory.failAll();
    void stop(ORPHAN_EXIT_MS);
  });

  /** Runs a routed call; `direct`: it came on the channel from its caller, and is answered there. */
  const serveCall = async (message: Extract<ToWorker, { t: "call" }>, direct = false) => {
    // The reply goes back on the path the call came (the supervisor's names the caller).
    const replyOf = (ok: boolean, value: unknown, refs?: WireRefs) => {
      const to = direct ? {} : { to: message.from };
      return ok
        ? { t: "reply" as const, rid: message.rid, ...to, ok: true as const, value, ...(refs !== undefined ? { refs } : {}) }
        : { t: "reply" as const, rid: message.rid, ...to, ok: false as const, error: encodeError(value) };
    };
    const sendReply = (reply: ReturnType<typeof replyOf> | Frame) => {
      if (direct) channels.send(message.from, reply as ChannelMessage | Frame);
      else send(reply as FromWorker | Frame);
    };
    const reply = (ok: boolean, value: unknown, refs?: WireRefs) => sendReply(replyOf(ok, value, refs));
    let request: Request | null = null;
    try {
      if (message.op !== "fetch" && message.refs !== undefined) {
        // A caller in this node's processes: references pass both ways (rpc-references.ts). A result without them is
        // encoded into its reply where it would be copied (rpc-frame.ts).
        const out = await references.serveRouted(runtime.hostForKey(message.key), message, (value, what) => encodeRpcFrame(replyOf(true, value), value, what));
        if (out instanceof Frame) return sendReply(out);
        return reply(true, out.value, out.refs);
      }
      const target = new LocalTarget(runtime.hostForKey(message.key));
      if (message.op === "call") return reply(true, await target.call(message.method, message.args));
      if (message.op === "read") return reply(true, await target.read(message.property));
      request = decodeRequest(message.request, bodies, message.from);
      const response = await target.fetch(request);
      const upgrade = acceptedUpgrade(response);
      const wire = encodeResponse(response, bodies, message.from, direct);
      if (upgrade !== null) {
        // Held here until the caller's worker sends the client's socket (or gives up).
        const token = nextToken++;
        const timer = setTimeout(() => {
          parked.delete(token);
          upgrade.abandon();
        }, UPGRADE_WAIT_MS);
        timer.unref();
        parked.set(token, { upgrade, timer });
        wire.upgrade = { token, owner: init.serial };
      }
      reply(true, wire);
    } catch (error) {
      // A request body nobody will read: its writer stops.
      void request?.body?.cancel().catch(() => {});
      reply(false, error);
    }
  };

  const adopt = (moved: MovedSocket, socket: Socket | undefined) => {
    const host = runtime.hostForKey(moved.key, true);
    if (socket === undefined || socket.destroyed) return;
    host.adoptSocket(moved, socket, Buffer.from(moved.unparsed));
  };

  /** Upgrades parked for `host` end now, while its instance still runs: the object sees them closed (1006) instead of keeping ghosts. */
  const abandonParked = (host: ObjectHost) => {
    for (const [token, entry] of parked) {
      if (!entry.upgrade.acceptedBy(host)) continue;
      parked.delete(token);
      clearTimeout(entry.timer);
      entry.upgrade.abandon();
    }
  };

  // A direct call runs here only for an object this process owns when it arrives; else it did not run and its caller sends it through the supervisor.
  onDirectCall = (peer, message) => {
    if (channels.closing || !directory.owned.has(slotOf(message.key.id))) channels.send(peer, { t: "not-here", rid: message.rid });
    else {
      // The message is this process's own (just decoded): it is named after its caller in place, not copied.
      (message as Extract<ToWorker, { t: "call" }>).from = peer;
      void serveCall(message as Extract<ToWorker, { t: "call" }>, true);
    }
  };
  onInvalid = (peer, reason) =>
    logger.error("Dropped an invalid message on a direct channel (the Worker's code may write to it)", {
      peer,
      error: new TorporError("ERR_IPC_INVALID", `Invalid message from process ${peer}: ${reason}.`),
    });

  const onMessage = (message: ToWorker, handle?: Socket): void => {
    switch (message.t) {
      case "channel":
        if (handle !== undefined) channels.add(message.peer, handle);
        return;
      case "conn":
        guard(handle);
        if (handle !== undefined) runtime.server!.acceptConnection(handle);
        return;
      case "call":
        void serveCall(message);
        return;
      case "reply":
        directory.settle(message.rid, message.from, message.ok, message.ok ? message.value : message.error, message.ok ? message.refs : undefined);
        return;
      case "ref-call":
      case "ref-reply":
      case "ref-release":
        references.onMessage(message);
        return;
      case "upgrade": {
        const entry = parked.get(message.token);
        if (entry === undefined || handle === undefined) {
          handle?.destroy();
          return;
        }
        parked.delete(message.token);
        clearTimeout(entry.timer);
        guard(handle);
        const req = { method: message.req.method, url: message.req.url, headers: message.req.headers } as unknown as IncomingMessage;
        entry.upgrade.complete(runtime.server!, req, handle, Buffer.from(message.head));
        return;
      }
      case "abandon": {
        const entry = parked.get(message.token);
        if (entry === undefined) return;
        parked.delete(message.token);
        clearTimeout(entry.timer);
        entry.upgrade.abandon();
        return;
      }
      case "socket":
        guard(handle);
        adopt(message.moved, handle);
        return;
      case "table": {
        // Slots that went to another node leave this process (the supervisor drained them first, or the node fences).
        for (const slot of directory.owned) if ((message.table.slots[slot] ?? -1) < 0) directory.owned.delete(slot);
        directory.nodeSlots = message.table.slots;
        node?.update(message.table);
        return;
      }
      case "fence":
        node?.fence.fence(message.reason);
        return;
      case "drain":
        void drain(new Set(message.slots)).then((objects) => send({ t: "drained", rid: message.rid, objects }));
        return;
      case "auto-response":
        runtime.hostForKey(message.key, true).autoResponse = new WebSocketRequestResponsePair(message.request, message.response);
        return;
      case "acquire":
        for (const slot of message.slots) directory.owned.add(slot);
        runtime.scheduleStoredAlarms((key) => message.slots.includes(slotOf(key.id)));
        node?.acquired(message.slots, runtime);
        return;
      case "release": {
        // From now on nothing here is local: calls for these objects go to the supervisor, which holds them for the new owner.
        const slots = new Set(directory.owned);
        directory.owned.clear();
        if (message.batched === true && moves !== null && !moves.closed) batches = new SocketBatches(moves);
        void moveOut(runtime, send, {
          slots,
          socketDrainMs: message.socketDrainMs,
          beforeMove: abandonParked,
          onSlow: (objects) => logger.warn("Objects still moving out", { objects }),
        });
        return;
      }
      case "moved-in":
        send({ t: "moved-in-reply", rid: message.rid });
        return;
      case "stats":
        send({ t: "stats-reply", rid: message.rid, metrics: runtime.metrics, objects: runtime.objects() });
        return;
      case "hibernate":
        // admin.ts (with the dashboard) loads on the first request, which only a supervisor's admin endpoint sends.
        void import("../admin.ts")
          .then(({ hibernateObject }) => hibernateObject(runtime, message.binding, message.name))
          .then(({ status, body }) => send({ t: "hibernate-reply", rid: message.rid, status, body }));
        return;
      case "health":
        send({ t: "health-reply", rid: message.rid, checks: runtimeChecks(runtime, worker.storage, `pid ${process.pid}`) });
        return;
      case "backup":
        // Only the objects of the slots this process owns: another process may have the rest open.
        worker.storage.backup(message.dest, { only: (key) => directory.owned.has(slotOf(key.id)) }).then(
          (report) => send({ t: "backup-reply", rid: message.rid, ok: true, ...report }),
          (error: unknown) => send({ t: "backup-reply", rid: message.rid, ok: false, error: (error as Error)?.message ?? String(error) }),
        );
        return;
      case "stop":
        void stop(message.deadlineMs, message.code, message.reason);
        return;
      case "exited":
        bodies.peerExited(message.serial);
        references.peerExited(message.serial);
        return;
      case "body-chunk":
      case "body-end":
      case "body-credit":
      case "body-cancel":
        bodies.onMessage(message);
        return;
      case "init":
        return;
    }
  };
  process.on("message", (message: ToWorker, handle?: Socket) => {
    onMessage(message, handle);
    order.ipcHandled();
  });
  order.start((message) => onMessage(message));
  if (moves !== null) {
    // A reload's sockets coming in (several descriptors per message) and their objects' auto-responses, in order.
    moves.onMessage = (raw, fds) => {
      const message = raw as ToWorker;
      if (message.t === "sockets" && message.moved.length === fds.length) {
        message.moved.forEach((moved, i) => {
          const socket = socketOf(fds[i]!, moves);
          guard(socket);
          adopt(moved, socket);
        });
      } else if (message.t === "auto-response") onMessage(message);
      else moves.closeFds(fds);
      order.movedHandled();
    };
    moves.onClose = (error) => {
      if (error !== null) logger.error("The descriptor channel to the supervisor broke", { error });
    };
  }
  send({ t: "ready", ...(moves !== null ? { moves: true } : {}) });
  send({ t: "imports", urls: loaded });
  pending = [];
}

/**
 * This process's end of its descriptor channel (fd-channel.ts), when the supervisor made one; null without the
 * addon here (the supervisor then moves its sockets over IPC, one at a time), its descriptor closed so the
 * supervisor sees the channel end.
 */
async function openMoves(fd: number | undefined, logger: { warn(message: string, fields?: Record<string, unknown>): void }): Promise<FdChannel | null> {
  if (fd === undefined) return null;
  const loaded = await loadFdPassing();
  if (loaded.ok) {
    loaded.addon.adopt(fd);
    return new FdChannel(loaded.addon, fd);
  }
  logger.warn("No descriptor channel in this worker: a reload moves its sockets one at a time", { reason: loaded.reason });
  closeSync(fd);
  return null;
}

/** A TCP socket from a descriptor that came on the descriptor channel, as Node's IPC makes one of a passed handle; undefined (and closed) if it is none. */
function socketOf(fd: number, moves: FdChannel): Socket | undefined {
  try {
    return new Socket({ fd, readable: true, writable: true });
  } catch {
    moves.closeFds([fd]);
    return undefined;
  }
}

/** A stub to the Durable Object `key` names, made by this worker's runtime (one passed in an RPC value). */
function durableStub(runtime: RunningWorker["runtime"], key: { namespace: string; id: string; name?: string }): object {
  for (const value of Object.values(runtime.env)) {
    if (!(value instanceof DurableObjectNamespace) || value.storageName !== key.namespace) continue;
    return value.get(key.name !== undefined ? value.idFromName(key.name) : value.idFromString(key.id));
  }
  throw new TorporError("ERR_UNKNOWN_OBJECT", `A Durable Object stub of namespace "${key.namespace}" was passed, and this Worker binds no such namespace.`);
}

/** How long a failed load waits for the loader thread's last module reports before it gives up on naming the place. */
const IMPORT_REPORTS_WAIT_MS = 2_000;

/** A JavaScript syntax error names no place in its stack: add the file and line `node --check` finds (load-error.ts). */
async function withSyntaxErrorPlace(error: unknown, loaded: string[]): Promise<unknown> {
  const text = `${(error as Error)?.message ?? ""}`;
  if (!/SyntaxError/.test(text) || /ERROR: /.test(text)) return error;
  // The loader thread's reports of the last modules may still be on their way (a loaded machine delays them by more
  // than a turn): check each file once as it is reported, until one does not parse or the wait is over.
  const deadline = Date.now() + IMPORT_REPORTS_WAIT_MS;
  let checked = 0;
  let place: string | null = null;
  await new Promise((resolve) => setImmediate(resolve));
  while (place === null) {
    const fresh = loaded.slice(checked);
    checked = loaded.length;
    const files = fresh.filter((u) => u.startsWith("file:") && !u.includes("/node_modules/")).map((u) => fileURLToPath(u.split("?")[0]!));
    place = locateSyntaxError(files);
    if (place !== null || Date.now() >= deadline) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  if (place === null) return error;
  const located = new Error(`${text}\n    at ${place}`);
  Object.assign(located, { name: (error as Error).name, code: (error as { code?: unknown }).code });
  return located;
}
