/**
 * One worker process as the supervisor sees it: forked, told its index and
 * serial, ready (or failed, or too slow to start), then serving, draining
 * (after a reload gave its objects to a successor) or gone. Every wait on it
 * is bounded: a start that does not report within `startTimeoutMs` is killed
 * and counts as a failure, and a stop that does not end within its deadline
 * ends with SIGKILL.
 */
import { type ChildProcess, fork } from "node:child_process";
import type { Socket } from "node:net";
import { TorporError } from "@torpor/core/errors";
import type { FdPassing } from "@torpor/native";
import { afterFor, afterMovedFor, concernsObject, supervisorControl, toWorkerOnIpc, WORKER_STDIO } from "./control-channel.ts";
import { FdChannel } from "./fd-channel.ts";
import type { FrameChannel } from "./frame-channel.ts";
import { withMallocEnv } from "./malloc-env.ts";
import type { FromWorker, ToWorker } from "./ipc.ts";
import type { NodeInit } from "./node-worker.ts";
import { decodeError } from "./wire.ts";
import { workerExecArgv } from "./worker-flags.ts";

/** Where a process is in its life. */
export type WorkerState = "starting" | "serving" | "draining" | "exited";

/** A reload moving this process's objects to its successor. */
export interface MoveOut {
  successor: WorkerProcess;
  /** Slots it was asked to give up and has not yet. */
  releasing: Set<number>;
  sockets: number;
  closed: number;
  /** Called once every slot is released (or the process is gone). */
  done(): void;
}

/** How to fork a worker. */
export interface SpawnOptions {
  script: string;
  argv: string[];
  index: number;
  serial: number;
  /** The slot table (slot → index), for the worker's view of where objects live. */
  slots: number[];
  startTimeoutMs: number;
  /** A node of several machines: its cluster database, durability and current table. */
  node?: NodeInit;
  /** Added to the environment it inherits (the supervisor's bundle of the Worker: worker-bundle.ts). */
  env?: Record<string, string>;
  /** The addon's fd passing, when this process has it: the worker gets a descriptor channel (fd-channel.ts) as MOVE_FD. */
  fdPassing?: FdPassing;
}

/** The worker's end of its descriptor channel: after the control channel (4). */
export const MOVE_FD = 5;

/** A worker process. */
export class WorkerProcess {
  readonly index: number;
  /** Unique for the supervisor's life: replies, upgrades and body chunks are addressed to it, never to the index. */
  readonly serial: number;
  readonly child: ChildProcess;
  state: WorkerState = "starting";
  /** Slots this process owns now (the supervisor's record; the worker keeps the same). */
  readonly owned = new Set<number>();
  /** Routed calls sent to it and not yet answered: `${callerSerial}:${rid}` → caller and rid. */
  readonly inflight = new Map<string, { from: number; rid: number }>();
  /** Resolves with the exit code (or the signal's name) once the process is gone. */
  readonly exited: Promise<number | string>;
  /** Resolves once it said ready; rejects if it failed to load, exited first or took longer than `startTimeoutMs`. */
  readonly ready: Promise<void>;
  /** Messages after ready (the supervisor routes them). */
  onMessage: (message: unknown, handle?: Socket) => void = () => {};
  exitCode: number | string | null = null;
  /** When it started serving (a process that served long enough restarts at once after a crash). */
  servingSince: number | null = null;
  /** Set while a reload moves its objects out. */
  move: MoveOut | null = null;
  /** It opened its descriptor channel: a reload may move sockets to and from it in batches (fd-channel.ts). */
  batchedMoves = false;
  /** Messages on its descriptor channel after ready, with their descriptors (the supervisor's to pass on or close). */
  onMoved: (message: unknown, fds: number[]) => void = () => {};
  /** The descriptor channel broke (the worker wrote what is not a packet of ours, or it failed): the process is killed; this says why. */
  onMovesBroken: (error: Error) => void = () => {};
  /** The control channel broke (the worker wrote what is not a frame): the process is killed; this says why. */
  onControlBroken: (error: Error) => void = () => {};
  /** Messages without a descriptor, both ways (control-channel.ts). */
  readonly #control: FrameChannel | null;
  /** IPC messages sent to it, and the count at the last one that concerned an object (control-channel.ts `afterFor`). */
  #ipcSent = 0;
  #objectSeq = 0;
  /** The descriptor channel (null without the addon), and the messages sent on it (control-channel.ts `afterMovedFor`). */
  readonly #moves: FdChannel | null = null;
  readonly #fdPassing: FdPassing | null;
  #movedSent = 0;

  constructor(options: SpawnOptions) {
    this.index = options.index;
    this.serial = options.serial;
    this.#fdPassing = options.fdPassing ?? null;
    const pair = this.#fdPassing?.socketPair() ?? null;
    this.child = fork(options.script, options.argv, {
      // The supervisor's pid lets a worker that starts after its supervisor died notice and stop (see worker.ts).
      // glibc malloc settings (malloc-env.ts) unless the user chose their own.
      env: withMallocEnv({
        ...process.env,
        ...options.env,
        TORPOR_CLUSTER_WORKER: String(options.index),
        TORPOR_CLUSTER_SUPERVISOR: String(process.pid),
      }),
      // V8 flags for a small young generation (worker-flags.ts) unless the user chose their own.
      execArgv: workerExecArgv(process.execArgv),
      serialization: "advanced",
      stdio: pair === null ? WORKER_STDIO : [...WORKER_STDIO, pair[1]],
    });
    this.child.on("error", () => {});
    this.#control = supervisorControl(this.child);
    let started = false;
    // The worker holds its end now (or the fork failed); ours alone must stay, so the worker's exit reads as the end.
    if (pair !== null) this.#fdPassing!.closeFd(pair[1]);
    const moves = pair === null ? null : new FdChannel(this.#fdPassing!, pair[0]);
    this.#moves = moves;
    // Everything it sent there before it exited is read (a slot released, its sockets) before it counts as exited.
    const movesRead = new Promise<void>((resolve) => {
      if (moves === null) return resolve();
      moves.onMessage = (message, fds) => {
        if (started) this.onMoved(message, fds);
        else this.closeFds(fds);
      };
      moves.onClose = (error) => {
        resolve();
        // A system error (EPIPE, ECONNRESET) is the process going away; a packet that is not one is the worker writing on fd 5.
        if (error === null || (error as NodeJS.ErrnoException).code !== undefined || !this.alive) return;
        // As for the control channel: sockets it moves out would be lost on the way, so it must not keep serving.
        this.onMovesBroken(error);
        this.kill();
      };
    });
    // Every frame it wrote before it exited is read before it counts as exited (its last replies are not failed as lost).
    const controlRead = new Promise<void>((resolve) => {
      const control = this.#control;
      if (control === null) return resolve();
      // A worker writes here only once it serves: what comes before it said ready is dropped, as on IPC.
      control.onMessage = (message) => {
        if (started) this.onMessage(message);
      };
      control.onEnd = () => {
        resolve();
        void control.end();
      };
      control.onClose = (error) => {
        resolve();
        // A system error (EPIPE, ECONNRESET) is the process going away; a frame that is not one is the worker writing on it.
        if (error === null || (error as NodeJS.ErrnoException).code !== undefined || !this.alive) return;
        // A worker that cannot be told anything any more must not keep serving: it restarts.
        this.onControlBroken(error);
        this.kill();
      };
    });
    const exit = new Promise<number | string>((resolve) => this.child.once("exit", (code, signal) => resolve(code ?? signal ?? "unknown")));
    this.exited = Promise.all([exit, controlRead, movesRead]).then(([code]) => {
      this.state = "exited";
      this.exitCode = code;
      return code;
    });
    this.ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(
          new TorporError(
            "ERR_WORKER_START_TIMEOUT",
            `Worker ${this.index} did not report ready within ${options.startTimeoutMs} ms; it was stopped (SIGKILL). Is the Worker's module-level code slow or stuck?`,
          ),
        );
        this.kill();
      }, options.startTimeoutMs);
      timer.unref();
      this.child.on("message", (message: unknown, handle?: Socket) => {
        if (started) return this.onMessage(message, handle);
        const m = message as FromWorker;
        if (m?.t === "ready") {
          started = true;
          this.batchedMoves = moves !== null && (m as { moves?: unknown }).moves === true;
          clearTimeout(timer);
          resolve();
        } else if (m?.t === "failed") {
          clearTimeout(timer);
          reject(decodeError(m.error));
        }
      });
      void this.exited.then((code) => {
        clearTimeout(timer);
        if (!started) reject(new TorporError("ERR_OBJECT_OWNER_EXITED", `Worker ${this.index} exited (${code}) before it was ready.`));
      });
    });
    // Observed so a failed start is never an unhandled rejection; callers await it too.
    this.ready.catch(() => {});
    this.send({
      t: "init",
      index: options.index,
      serial: options.serial,
      slots: options.slots,
      ...(options.node !== undefined ? { node: options.node } : {}),
      ...(moves !== null ? { moveFd: MOVE_FD } : {}),
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get alive(): boolean {
    return this.state !== "exited";
  }

  /**
   * Sends a message: with a descriptor (or belonging with descriptors) on Node IPC, else on the control channel,
   * stamped with the IPC messages it must follow (control-channel.ts). A socket that cannot be sent is destroyed,
   * so its client sees the drop.
   */
  send(message: ToWorker, handle?: Socket): void {
    if (this.#control !== null && !toWorkerOnIpc(message, handle)) {
      const after = afterFor(message, this.#ipcSent, this.#objectSeq);
      const afterMoved = afterMovedFor(message, this.#movedSent);
      this.#control.send(after > 0 || afterMoved > 0 ? { ...message, ...(after > 0 ? { after } : {}), ...(afterMoved > 0 ? { afterMoved } : {}) } : message);
      return;
    }
    if (!this.child.connected) {
      handle?.destroy();
      return;
    }
    // Counted as the worker counts what it handles: every message sent here reaches it in order, or the channel broke and it is gone.
    this.#ipcSent++;
    if (concernsObject(message)) this.#objectSeq = this.#ipcSent;
    try {
      this.child.send(message, handle, (error) => {
        if (error !== null && error !== undefined) handle?.destroy();
      });
    } catch {
      // The channel closed between the check and the send (the process is exiting).
      handle?.destroy();
    }
  }

  /**
   * Sends a reload's message (moved sockets with their descriptors, an object's auto-response) on the descriptor
   * channel. The descriptors are closed here once sent (the worker holds its own then) or when they cannot be.
   */
  sendMoved(message: Extract<ToWorker, { t: "sockets" | "auto-response" }>, fds: readonly number[] = []): void {
    const moves = this.#moves;
    if (moves === null || moves.closed || !this.alive) {
      this.closeFds(fds);
      return;
    }
    this.#movedSent++;
    moves.send(message, fds, () => this.closeFds(fds));
  }

  /** Closes descriptors this process received (a socket nobody can take: its client sees the connection end). */
  closeFds(fds: readonly number[]): void {
    for (const fd of fds) {
      try {
        this.#fdPassing?.closeFd(fd);
      } catch {
        // Already closed.
      }
    }
  }

  /** SIGKILL (idempotent). */
  kill(): void {
    if (this.alive) this.child.kill("SIGKILL");
  }

  /** Asks it to finish and exit (its sockets close with `code`, 1012 unless told); SIGKILL if it is still there after `deadlineMs` (plus a margin for its own cleanup). Resolves once it is gone. */
  async stop(deadlineMs: number, onKill?: () => void, code?: number, reason?: string): Promise<void> {
    if (!this.alive) return;
    if (this.child.connected) this.send({ t: "stop", deadlineMs, ...(code !== undefined ? { code } : {}), ...(reason !== undefined ? { reason } : {}) });
    else this.child.kill("SIGTERM");
    const timer = setTimeout(() => {
      onKill?.();
      this.kill();
    }, deadlineMs + 2_000);
    timer.unref();
    await this.exited;
    clearTimeout(timer);
  }

  /**
   * A socket sent to a child stays open in the sender until the child
   * acknowledges it (Node's child_process keeps it in `_pendingMessage` and
   * queues later ones in `_handleQueue`); a child that died never does, and the
   * client would wait forever. Close them so the client sees the connection drop.
   */
  closeUndeliveredHandles(): void {
    const internals = this.child as unknown as {
      _pendingMessage?: { handle?: { close?: () => void } } | null;
      _handleQueue?: Array<{ handle?: { close?: () => void; destroy?: () => void } }> | null;
    };
    internals._pendingMessage?.handle?.close?.();
    for (const queued of internals._handleQueue ?? []) {
      const handle = queued.handle;
      if (handle?.destroy !== undefined) handle.destroy();
      else handle?.close?.();
    }
  }
}
