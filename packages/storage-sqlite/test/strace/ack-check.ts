/**
 * The check that every acknowledgement follows the sync of every file that
 * holds its writes, read from a syscall trace (trace.ts).
 *
 * Each write the workload makes carries a marker (a unique string stored as
 * a value or a row), so the writes of an acknowledged request are found by
 * their bytes in the `pwrite64` calls, in whichever file they landed (the
 * object's WAL, another object's WAL for a cross-object call, the main
 * database after a checkpoint). For each marker, some write holding it must
 * have finished before a successful fsync/fdatasync of the same file began,
 * that sync must have returned before the ack frame was written to its
 * socket, and no sync of that file may have failed in between (a failed sync
 * may drop the page: see power-loss.ts).
 */
import type { FileSync, FileWrite, SocketSend, TraceEvent } from "./trace.ts";

/** One acknowledgement to check. */
export interface Ack {
  /** How problems name it. */
  label: string;
  /** Bytes of the frame or response that acknowledges it (found in a socket write). */
  frame: string;
  /** Markers of every write it acknowledges. */
  markers: string[];
}

/** Where each ack frame left, by label (the send's entry line). */
export function ackLines(events: TraceEvent[], acks: Ack[]): Map<string, number> {
  const sends = events.filter((e): e is SocketSend => e.kind === "send");
  const lines = new Map<string, number>();
  for (const ack of acks) {
    const frame = Buffer.from(ack.frame);
    const send = sends.find((s) => s.data.includes(frame));
    if (send !== undefined) lines.set(ack.label, send.call.entry);
  }
  return lines;
}

/** Checks every ack; returns one line per problem (empty: every ack rests on synced data). */
export function checkAcksAfterSync(events: TraceEvent[], acks: Ack[]): string[] {
  const writes = events.filter((e): e is FileWrite => e.kind === "write");
  const syncs = events.filter((e): e is FileSync => e.kind === "sync");
  const lines = ackLines(events, acks);
  const problems: string[] = [];
  for (const ack of acks) {
    const sent = lines.get(ack.label);
    if (sent === undefined) {
      problems.push(`${ack.label}: its frame ${JSON.stringify(ack.frame)} is not in the trace`);
      continue;
    }
    for (const marker of ack.markers) {
      const bytes = Buffer.from(marker);
      const holding = writes.filter((w) => w.call.exit < sent && w.data.includes(bytes));
      if (holding.length === 0) {
        problems.push(`${ack.label}: acknowledged (line ${sent + 1}) before any write of ${marker}`);
        continue;
      }
      const covered = holding.some((w) => {
        const ok = syncs.find((s) => s.path === w.path && s.ok && s.call.entry > w.call.exit && s.call.exit < sent);
        if (ok === undefined) return false;
        return !syncs.some((s) => s.path === w.path && !s.ok && s.call.entry > w.call.exit && s.call.exit <= ok.call.exit);
      });
      if (!covered) {
        const last = holding[holding.length - 1]!;
        problems.push(
          `${ack.label}: acknowledged (line ${sent + 1}) with ${marker} written to ${last.path} (line ${last.call.exit + 1}) and not synced before`,
        );
      }
    }
  }
  return problems;
}
