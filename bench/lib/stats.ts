// Percentiles, histograms, medians, and the result table.

/** Latency histogram: 5 µs buckets up to 5 s (cheap to add to at 200k samples/s; durable writes on a busy disk take 100s of ms). */
export class Hist {
  static readonly STEP_MS = 0.005;
  readonly counts = new Uint32Array(1_000_000);
  count = 0;
  sum = 0;
  max = 0;
  add(ms: number): void {
    const i = Math.min(this.counts.length - 1, Math.floor(ms / Hist.STEP_MS));
    this.counts[i]!++;
    this.count++;
    this.sum += ms;
    if (ms > this.max) this.max = ms;
  }
  percentile(p: number): number {
    if (this.count === 0) return NaN;
    const want = Math.ceil((p / 100) * this.count);
    let seen = 0;
    for (let i = 0; i < this.counts.length; i++) {
      seen += this.counts[i]!;
      if (seen >= want) return (i + 0.5) * Hist.STEP_MS;
    }
    return this.max;
  }
  summary(): LatencySummary {
    return {
      count: this.count,
      p50: this.percentile(50),
      p99: this.percentile(99),
      p999: this.percentile(99.9),
      mean: this.count ? this.sum / this.count : NaN,
      max: this.max,
    };
  }
}

export interface LatencySummary {
  count: number;
  p50: number;
  p99: number;
  p999: number;
  mean: number;
  max: number;
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[idx]!;
}

export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Least-squares slope of y over x. */
export function slope(xs: number[], ys: number[]): number {
  const n = xs.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i]! - mx) * (ys[i]! - my);
    den += (xs[i]! - mx) ** 2;
  }
  return num / den;
}

/** One line of the result table: the same figure for raw ws, workerd and Torpor, measured in one run. */
export interface Row {
  figure: string;
  /** The raw ws baseline (plus better-sqlite3 where the figure writes), or NaN. */
  raw: number;
  /** workerd through miniflare, or NaN when not measured. */
  workerd: number;
  torpor: number;
  unit: string;
  /** How Torpor compares: "ratio" (torpor / baseline) or "diff" (torpor − baseline). */
  compare: "ratio" | "diff";
  /** Which column the comparison and the target are against. */
  vs: "raw" | "workerd";
  /** The target, e.g. "≤ 1.3× raw"; empty for figures reported without one. */
  target: string;
  /** Whether the target is met; undefined when there is none. */
  met?: boolean;
}

export interface Figures {
  raw?: number;
  workerd?: number;
  torpor: number;
}

export interface RatioTarget {
  max?: number;
  min?: number;
  /** Default raw. */
  vs?: "raw" | "workerd";
}

export function ratioRow(figure: string, f: Figures, unit: string, target: RatioTarget | null): Row {
  const vs = target?.vs ?? "raw";
  const base = (vs === "raw" ? f.raw : f.workerd) ?? NaN;
  const r = f.torpor / base;
  const t = target === null ? "" : target.max !== undefined ? `≤ ${target.max}× ${vs}` : `≥ ${target.min}× ${vs}`;
  const met = target === null ? undefined : target.max !== undefined ? r <= target.max : r >= target.min!;
  return { figure, raw: f.raw ?? NaN, workerd: f.workerd ?? NaN, torpor: f.torpor, unit, compare: "ratio", vs, target: t, met };
}

/** A figure compared by difference against the raw column (e.g. wake latency against a live object). */
export function diffRow(figure: string, torpor: number, baseline: number, unit: string, maxDiff: number | null): Row {
  return {
    figure,
    raw: baseline,
    workerd: NaN,
    torpor,
    unit,
    compare: "diff",
    vs: "raw",
    target: maxDiff === null ? "" : `≤ +${maxDiff} ${unit}`,
    met: maxDiff === null ? undefined : torpor - baseline <= maxDiff,
  };
}

/** A Torpor-only figure (no baseline), possibly with an absolute target. */
export function valueRow(figure: string, torpor: number, unit: string, target: { max?: number; min?: number } | null = null): Row {
  const t = target === null ? "" : target.max !== undefined ? `≤ ${fmt(target.max, unit)}` : `≥ ${fmt(target.min!, unit)}`;
  const met = target === null ? undefined : target.max !== undefined ? torpor <= target.max : torpor >= target.min!;
  return { figure, raw: NaN, workerd: NaN, torpor, unit, compare: "ratio", vs: "raw", target: t, met };
}

export function fmt(n: number, unit = ""): string {
  if (!Number.isFinite(n)) return "n/a";
  const abs = Math.abs(n);
  const s = abs >= 100 ? Math.round(n).toLocaleString("en-US") : abs >= 10 ? n.toFixed(1) : abs >= 1 ? n.toFixed(2) : n.toFixed(3);
  return unit ? `${s} ${unit}` : s;
}

export function renderTable(rows: Row[]): string {
  const head = ["figure", "raw ws", "workerd", "torpor start", "Torpor vs baseline", "target", "met"];
  const cell = (n: number, unit: string) => (Number.isFinite(n) ? fmt(n, unit) : "");
  const lines = rows.map((r) => {
    const base = r.vs === "raw" ? r.raw : r.workerd;
    const cmp = !Number.isFinite(base)
      ? ""
      : r.compare === "ratio"
        ? `${(r.torpor / base).toFixed(2)}× ${r.vs}`
        : `${r.torpor - base >= 0 ? "+" : ""}${fmt(r.torpor - base, r.unit)}`;
    return [r.figure, cell(r.raw, r.unit), cell(r.workerd, r.unit), cell(r.torpor, r.unit), cmp, r.target, r.met === undefined ? "" : r.met ? "yes" : "**NO**"];
  });
  return [`| ${head.join(" | ")} |`, `| ${head.map(() => "---").join(" | ")} |`, ...lines.map((l) => `| ${l.join(" | ")} |`)].join("\n");
}
