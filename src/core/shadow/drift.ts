/**
 * Live drift: how far the values a sidecar serves have moved from the
 * training distribution stored in the bundle's manifest (src/core/stats.ts),
 * as the population stability index over a sliding window.
 *
 *   PSI = sum over buckets of (a - e) * ln(a / e)
 *
 * with e the share of the bundle's values in a bucket and a the share of
 * the served ones; a share of 0 counts as EPSILON, so an empty bucket does
 * not make the index infinite. Buckets: for numbers (and timestamps) the
 * manifest's histogram bins, plus one below its min and one above its max
 * (the bundle has no value there, so served values there read as drift);
 * for strings and bools the manifest's top values plus "other". Only
 * PRESENT values count: holes read as defaults, which are no sample of the
 * data. Lists have no distribution in the manifest and are not watched.
 * Rules of thumb: below 0.1 stable, 0.1 to 0.2 worth a look, above 0.2 moved.
 */
import type { FieldStatus } from '../asof.js';
import type { BundleManifest } from '../bundle/format.js';
import type { Dtype } from '../dtypes.js';
import type { FeatureStats } from '../stats.js';

/** A share of 0 counts as this much, on both sides. */
export const EPSILON = 1e-4;

/** The population stability index of `counts` against the expected shares `expected` (same buckets). */
export function psi(expected: readonly number[], counts: ArrayLike<number>): number {
  let total = 0;
  for (let i = 0; i < counts.length; i++) total += counts[i]!;
  if (total === 0) return 0;
  let sum = 0;
  for (let i = 0; i < expected.length; i++) {
    const e = Math.max(expected[i]!, EPSILON);
    const a = Math.max(counts[i]! / total, EPSILON);
    sum += (a - e) * Math.log(a / e);
  }
  return sum;
}

/** The buckets of one watched feature: labels, expected shares, and where a served value falls. */
export interface DriftBuckets {
  kind: 'numeric' | 'categorical';
  labels: string[];
  expected: number[];
  bucketOf(value: unknown): number;
}

const fmt = (n: number) => (Number.isInteger(n) ? String(n) : n.toPrecision(4));

/** The buckets for a feature of `dtype` with manifest stats `stats`, or undefined when it has no distribution to compare with. */
export function driftBuckets(dtype: Dtype, stats: FeatureStats | undefined): DriftBuckets | undefined {
  if (!stats) return undefined;
  const present = stats.count - stats.nullCount;
  if (present <= 0) return undefined;
  if (stats.histogram) {
    const { min, max, counts } = stats.histogram;
    const bins = counts.length;
    const width = (max - min) / bins;
    const asNumber = dtype === 'timestamp' ? (v: unknown) => (typeof v === 'string' ? Date.parse(v) : Number(v)) : (v: unknown) => v as number;
    const labels = [`< ${fmt(min)}`, ...counts.map((_, i) => `[${fmt(min + i * width)}, ${fmt(i === bins - 1 ? max : min + (i + 1) * width)}${i === bins - 1 ? ']' : ')'}`), `> ${fmt(max)}`];
    return {
      kind: 'numeric',
      labels,
      expected: [0, ...counts.map((c) => c / present), 0],
      bucketOf(value) {
        const v = asNumber(value);
        if (!(v >= min)) return 0; // below, or NaN
        if (v > max) return bins + 1;
        // A constant feature (min == max) has its one value in the first bin.
        return width === 0 ? 1 : 1 + Math.min(bins - 1, Math.floor((v - min) / width));
      },
    };
  }
  if (stats.topValues && stats.topValues.length > 0) {
    const top = stats.topValues;
    const index = new Map<unknown, number>(top.map((t, i) => [t.value, i]));
    const other = top.length;
    const inTop = top.reduce((s, t) => s + t.count, 0);
    return {
      kind: 'categorical',
      labels: [...top.map((t) => String(t.value)), 'other'],
      expected: [...top.map((t) => t.count / present), (present - inTop) / present],
      bucketOf: (value) => index.get(value) ?? other,
    };
  }
  return undefined;
}

/** One feature's drift over the window. */
export interface FeatureDrift {
  view: string;
  feature: string;
  kind: 'numeric' | 'categorical';
  /** Served values counted in the window. */
  samples: number;
  /** Null until a value is counted. */
  psi: number | null;
  buckets: { bucket: string; expected: number; served: number }[];
}

export interface DriftReport {
  project: string;
  bundleVersion: number;
  windowSeconds: number;
  /** The window's start, epoch ms (the later of now - window and when this bundle was first watched). */
  sinceMs: number;
  features: FeatureDrift[];
}

interface Watched {
  view: string;
  feature: string;
  buckets: DriftBuckets;
  /** Counts per slice, slice-major: counts[slice * width + bucket]. */
  counts: Float64Array;
}

/** Values a column of an answer holds, as AnswerColumns gives them. */
export interface ServedColumn {
  values: readonly unknown[];
  numbers: Float64Array | undefined;
  statuses: readonly FieldStatus[];
}

export interface DriftWindowOptions {
  windowMs: number;
  /** The window moves in this many steps (default 10). */
  slices?: number;
}

/**
 * Counts served values of one bundle's watched features over a sliding
 * window of `slices` time slices; a report sums the live ones.
 */
export class DriftWindow {
  readonly manifest: BundleManifest;
  private readonly byView = new Map<string, (Watched | undefined)[]>();
  private readonly watched: Watched[] = [];
  private readonly sliceMs: number;
  private readonly slices: number;
  /** The slice number each ring position holds (-1: none yet). */
  private readonly stamps: Float64Array;
  private readonly startedMs: number;

  constructor(manifest: BundleManifest, opts: DriftWindowOptions, nowMs: number) {
    this.manifest = manifest;
    this.slices = opts.slices ?? 10;
    this.sliceMs = Math.max(1, opts.windowMs / this.slices);
    this.stamps = new Float64Array(this.slices).fill(-1);
    this.startedMs = nowMs;
    for (const vm of manifest.views) {
      const def = manifest.repo.featureViews.find((v) => v.name === vm.name);
      if (!def) continue;
      const list = def.features.map((f) => {
        const buckets = driftBuckets(f.dtype, vm.features[f.name]);
        if (!buckets) return undefined;
        const w: Watched = { view: vm.name, feature: f.name, buckets, counts: new Float64Array(this.slices * buckets.expected.length) };
        this.watched.push(w);
        return w;
      });
      this.byView.set(vm.name, list);
    }
  }

  /** The ring position for `nowMs`, cleared when it starts a new slice. */
  private slot(nowMs: number): number {
    const slice = Math.floor(nowMs / this.sliceMs);
    const pos = slice % this.slices;
    if (this.stamps[pos] !== slice) {
      this.stamps[pos] = slice;
      for (const w of this.watched) {
        const width = w.buckets.expected.length;
        w.counts.fill(0, pos * width, (pos + 1) * width);
      }
    }
    return pos;
  }

  /** Counts the PRESENT values of one answered column of view `view`'s feature `featureIndex`. */
  observe(view: string, featureIndex: number, column: ServedColumn, count: number, nowMs: number): void {
    const w = this.byView.get(view)?.[featureIndex];
    if (!w) return;
    const base = this.slot(nowMs) * w.buckets.expected.length;
    const { statuses, numbers, values } = column;
    for (let i = 0; i < count; i++) {
      if (statuses[i] !== 'PRESENT') continue;
      w.counts[base + w.buckets.bucketOf(numbers ? numbers[i] : values[i])]!++;
    }
  }

  report(nowMs: number): DriftReport {
    const current = Math.floor(nowMs / this.sliceMs);
    const live: number[] = [];
    for (let p = 0; p < this.slices; p++) if (this.stamps[p]! > current - this.slices && this.stamps[p]! <= current) live.push(p);
    const features = this.watched.map((w): FeatureDrift => {
      const width = w.buckets.expected.length;
      const sums = new Float64Array(width);
      for (const p of live) for (let b = 0; b < width; b++) sums[b]! += w.counts[p * width + b]!;
      const samples = sums.reduce((s, x) => s + x, 0);
      return {
        view: w.view,
        feature: w.feature,
        kind: w.buckets.kind,
        samples,
        psi: samples === 0 ? null : psi(w.buckets.expected, sums),
        buckets: w.buckets.labels.map((bucket, b) => ({ bucket, expected: w.buckets.expected[b]!, served: samples === 0 ? 0 : sums[b]! / samples })),
      };
    });
    const windowMs = this.sliceMs * this.slices;
    return {
      project: this.manifest.project,
      bundleVersion: this.manifest.version,
      windowSeconds: windowMs / 1000,
      sinceMs: Math.max(this.startedMs, (current - this.slices + 1) * this.sliceMs),
      features,
    };
  }
}
