/**
 * Run by fd-channel-in-flight.test.ts without CAP_SYS_RESOURCE and CAP_SYS_ADMIN, under a low open-files limit:
 * the kernel then refuses a message whose descriptors would put the user over that limit in flight
 * (ETOOMANYREFS; a process with either capability is exempt, so the test cannot run in its own process). It sends MESSAGES messages of PER_MESSAGE descriptors
 * before the receiving end reads anything, then lets it read, and prints what happened as one JSON line.
 */
import { closeSync, openSync } from "node:fs";
import { VirtualClock } from "@torpor/core";
import { loadNative } from "@torpor/native";
import { FdChannel, IN_FLIGHT_RETRY_MS } from "../src/cluster/fd-channel.ts";

const MESSAGES = 20;
const PER_MESSAGE = 8;

const loaded = loadNative().fdPassing;
if (!loaded.ok) throw loaded.error;
const addon = loaded.binding;
const clock = new VirtualClock();
const [a, b] = addon.socketPair();
const tx = new FdChannel(addon, a, clock);
let closedWith: string | null = null;
tx.onClose = (error) => {
  closedWith = error === null ? "peer" : error.message;
};
const sources = Array.from({ length: PER_MESSAGE }, () => openSync("/dev/null", "r"));
let left = MESSAGES;
for (let i = 0; i < MESSAGES; i++) {
  tx.send({ i }, sources, () => {
    if (--left === 0) for (const fd of sources) closeSync(fd);
  });
}
const queuedBeforeReading = tx.queued;
const closedBeforeReading = closedWith;

const received: number[] = [];
const rx = new FdChannel(addon, b, clock);
rx.onMessage = (message, fds) => {
  received.push((message as { i: number }).i);
  // Each arrives with its descriptors, which the receiver owns.
  if (fds.length !== PER_MESSAGE) received.push(-fds.length);
  rx.closeFds(fds);
};
const deadline = Date.now() + 10_000;
while (received.length < MESSAGES && closedWith === null && Date.now() < deadline) {
  await clock.advance(IN_FLIGHT_RETRY_MS);
  await new Promise((resolve) => setImmediate(resolve));
}
process.stdout.write(`${JSON.stringify({ queuedBeforeReading, closedBeforeReading, closedWith, received })}\n`);
tx.close();
rx.close();
