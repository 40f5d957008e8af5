/**
 * A small network for multi-node fault tests: one Linux network namespace per
 * node, each joined by a veth pair to a bridge in this (the test's) namespace,
 * on a private /24 the lab picks at random. The bridge holds the first address
 * (PostgreSQL and the test's clients live here); node i gets address i + 2.
 * Faults are routes inside a node's namespace: a blackhole route to
 * PostgreSQL's address or to another node's. Needs root and `ip` (iproute2);
 * where either is missing, {@link createLab} says why and the tests fall back
 * to distinct loopback addresses (127.0.0.x) with no network faults.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";

/** A lab of `nodes` namespaces on one bridge. */
export interface Lab {
  /** The bridge's address (this namespace): where PostgreSQL listens and clients connect from. */
  readonly hostIp: string;
  /** Node i's address. */
  ip(i: number): string;
  /** The command prefix that runs a program in node i's namespace. */
  exec(i: number): string[];
  /** Drops everything node i sends to `ip` (a blackhole route in its namespace). */
  cut(i: number, ip: string): void;
  /** Removes that route. */
  heal(i: number, ip: string): void;
  /** Deletes the namespaces and the bridge (idempotent). */
  destroy(): void;
}

/** Why a lab cannot be made here, or null when it can. */
export function labUnavailableReason(): string | null {
  if (typeof process.getuid !== "function" || process.getuid() !== 0) return "not root (network namespaces need CAP_NET_ADMIN)";
  if (spawnSync("ip", ["-V"]).status !== 0) return "no ip(8) (iproute2)";
  const probe = `tprp${randomBytes(3).toString("hex")}`;
  const made = spawnSync("ip", ["netns", "add", probe]);
  if (made.status !== 0) return `ip netns add failed: ${made.stderr.toString().trim()}`;
  spawnSync("ip", ["netns", "del", probe]);
  return null;
}

const live = new Set<Lab>();
let hooked = false;

/** Creates the namespaces, veth pairs and bridge. */
export function createLab(nodes: number): Lab {
  const tag = randomBytes(2).toString("hex");
  const subnet = `10.${128 + (randomBytes(1)[0]! % 120)}.${randomBytes(1)[0]!}`;
  const bridge = `tpr${tag}b`;
  const ns = (i: number) => `tpr${tag}n${i}`;
  const ip = (...args: string[]) => execFileSync("ip", args, { stdio: ["ignore", "ignore", "pipe"] });
  const hostIp = `${subnet}.1`;
  let destroyed = false;
  const lab: Lab = {
    hostIp,
    ip: (i) => `${subnet}.${i + 2}`,
    exec: (i) => ["ip", "netns", "exec", ns(i)],
    cut(i, target) {
      ip("netns", "exec", ns(i), "ip", "route", "replace", "blackhole", `${target}/32`);
    },
    heal(i, target) {
      spawnSync("ip", ["netns", "exec", ns(i), "ip", "route", "del", "blackhole", `${target}/32`]);
    },
    destroy() {
      if (destroyed) return;
      destroyed = true;
      live.delete(lab);
      for (let i = 0; i < nodes; i++) spawnSync("ip", ["netns", "del", ns(i)]);
      spawnSync("ip", ["link", "del", bridge]);
    },
  };
  try {
    ip("link", "add", bridge, "type", "bridge");
    ip("addr", "add", `${hostIp}/24`, "dev", bridge);
    ip("link", "set", bridge, "up");
    for (let i = 0; i < nodes; i++) {
      const outside = `tpr${tag}v${i}`;
      const inside = `tpr${tag}i${i}`;
      ip("netns", "add", ns(i));
      ip("netns", "exec", ns(i), "ip", "link", "set", "lo", "up");
      ip("link", "add", outside, "type", "veth", "peer", "name", inside);
      ip("link", "set", inside, "netns", ns(i));
      ip("link", "set", outside, "master", bridge);
      ip("link", "set", outside, "up");
      ip("netns", "exec", ns(i), "ip", "addr", "add", `${lab.ip(i)}/24`, "dev", inside);
      ip("netns", "exec", ns(i), "ip", "link", "set", inside, "up");
    }
  } catch (error) {
    lab.destroy();
    throw error;
  }
  live.add(lab);
  if (!hooked) {
    hooked = true;
    // A test process that dies must not leave namespaces and a bridge behind.
    process.on("exit", () => {
      for (const l of live) l.destroy();
    });
  }
  return lab;
}
