/** The addon's descriptor passing (src/fd_passing.c). Every call is non-blocking. */
export interface FdPassing {
  /** A connected Unix SOCK_SEQPACKET pair, both ends non-blocking and close-on-exec. */
  socketPair(): [number, number];
  /** Makes an inherited descriptor non-blocking and close-on-exec. */
  adopt(fd: number): void;
  closeFd(fd: number): void;
  /** One packet (`bytes` not empty, at most 253 `fds`): true once sent (the receiver holds its own copies), false when the peer's queue is full (wait for writable). Throws otherwise (EPIPE: the peer is gone). */
  send(fd: number, bytes: Uint8Array, fds: Int32Array): boolean;
  /** One packet into `buffer`: null when none is queued; `length` 0 is the end (the peer closed). Throws for a packet larger than `buffer`. */
  receive(fd: number, buffer: Uint8Array): { length: number; fds: number[] } | null;
  /** A stopped poll handle on this process's event loop (it does not keep the process alive). */
  watch(fd: number, callback: (status: number, events: number) => void): Watcher;
  /** `events`: 1 readable, 2 writable, 3 both, 0 stops. The callback gets (status, events) with 4 for a hang-up. */
  pollStart(watcher: Watcher, events: number): void;
  /** Stops the watcher for good; call before closing its descriptor. */
  pollClose(watcher: Watcher): void;
}

/** An opaque poll handle. */
export type Watcher = { readonly __watcher: unique symbol };

/** The kernel's limit of descriptors in one message (SCM_MAX_FD). */
export const MAX_FDS_PER_PACKET = 253;
