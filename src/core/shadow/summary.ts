/**
 * The shadow comparison's tally: per feature, how many logged values were
 * compared, equal and mismatched, the causes of the mismatches, how far
 * numbers were apart, and example entities; and the verdict against a
 * maximum mismatch rate (for CI).
 *
 *   compared     logged (entity, feature) values recomputed offline
 *   equal        served value == training value (at the feature's precision, within the tolerance)
 *   mismatched   compared - equal
 *   missing      mismatched where the sidecar served a hole and offline has a value
 *   extra        mismatched where the sidecar served a value and offline has a hole
 *   causes       mismatched, by cause (compare.ts)
 *   mean / max absolute difference   over the pairs of numbers (equal ones included)
 *   SMAPE        mean of |a - b| / ((|a| + |b|) / 2) over pairs of plain numbers, in percent (0..200)
 */
import type { FieldStatus } from '../asof.js';
import type { Dtype } from '../dtypes.js';
import { CAUSES, type Cause, EXACT, type OfflineSide, type ServedSide, type Tolerance, absDiff, causeOf, hasSmape, sameValue, smapeTerm } from './compare.js';

export interface ExampleSide {
  value: unknown;
  status: FieldStatus;
  eventMs: number | null;
  createdMs: number | null;
}

/** One mismatched value, with where it came from on both sides. */
export interface Example {
  feature: string;
  entity: Record<string, string | number>;
  requestMs: number;
  requestId: string;
  bundleVersion: number;
  cause: Cause;
  absDiff: number | null;
  served: ExampleSide & { tier: string };
  offline: ExampleSide;
}

export interface FeatureSummary {
  /** "view:feature". */
  feature: string;
  view: string;
  dtype: Dtype;
  compared: number;
  equal: number;
  mismatched: number;
  missing: number;
  extra: number;
  causes: Record<Cause, number>;
  meanAbsDiff: number | null;
  maxAbsDiff: number | null;
  /** Percent, 0..200; null for non-numbers or without a pair. */
  smape: number | null;
  /** Up to `examplesPerCause` per cause, one per entity (its first request). */
  examples: Example[];
}

export interface ShadowSummary {
  features: FeatureSummary[];
  /** The worst mismatches overall, one per (feature, entity, cause): skew first, then unexplained, ttl, stale, not_held; larger differences first. */
  worst: Example[];
  /** Log lines (entities) read. */
  records: number;
  compared: number;
  equal: number;
  mismatched: number;
  causes: Record<Cause, number>;
  firstRequestMs: number | null;
  lastRequestMs: number | null;
  bundleVersions: number[];
}

/** The feature a value belongs to, as the tally needs it. */
export interface ComparedFeature {
  ref: string;
  view: string;
  dtype: Dtype;
  ttlSeconds: number;
}

/** Which log line a value came from. */
export interface ValueContext {
  entity: Record<string, string | number>;
  requestId: string;
  bundleVersion: number;
}

const SEVERITY: Record<Cause, number> = { skew: 0, unexplained: 1, ttl: 2, stale: 3, not_held: 4 };

function worseFirst(a: Example, b: Example): number {
  return SEVERITY[a.cause] - SEVERITY[b.cause] || (b.absDiff ?? Infinity) - (a.absDiff ?? Infinity) || a.requestMs - b.requestMs;
}

const noCauses = (): Record<Cause, number> => Object.fromEntries(CAUSES.map((c) => [c, 0])) as Record<Cause, number>;

interface Tally extends FeatureSummary {
  diffSum: number;
  diffCount: number;
  smapeSum: number;
  smapeCount: number;
}

export interface AccumulatorOptions {
  tolerance?: Tolerance;
  examplesPerCause?: number;
  worst?: number;
}

export class ShadowAccumulator {
  private readonly tallies = new Map<string, Tally>();
  private readonly tolerance: Tolerance;
  private readonly examplesPerCause: number;
  private readonly worstCount: number;
  private worst: Example[] = [];
  /** (feature, entity, cause) of the examples kept: an entity asked again and again is one example. */
  private readonly exampled = new Set<string>();
  private readonly versions = new Set<number>();
  private first: number | null = null;
  private last: number | null = null;
  records = 0;

  constructor(opts: AccumulatorOptions = {}) {
    this.tolerance = opts.tolerance ?? EXACT;
    this.examplesPerCause = opts.examplesPerCause ?? 5;
    this.worstCount = opts.worst ?? 20;
  }

  private tally(f: ComparedFeature): Tally {
    let t = this.tallies.get(f.ref);
    if (!t) {
      t = {
        feature: f.ref, view: f.view, dtype: f.dtype, compared: 0, equal: 0, mismatched: 0, missing: 0, extra: 0, causes: noCauses(),
        meanAbsDiff: null, maxAbsDiff: null, smape: null, examples: [], diffSum: 0, diffCount: 0, smapeSum: 0, smapeCount: 0,
      };
      this.tallies.set(f.ref, t);
    }
    return t;
  }

  /** Counts one log line (entity) read. */
  addRecord(requestMs: number, bundleVersion: number): void {
    this.records++;
    this.versions.add(bundleVersion);
    if (this.first === null || requestMs < this.first) this.first = requestMs;
    if (this.last === null || requestMs > this.last) this.last = requestMs;
  }

  /** Compares one served value with its training value; returns the cause when they differ. */
  add(f: ComparedFeature, served: ServedSide, offline: OfflineSide, ctx: ValueContext): Cause | undefined {
    const t = this.tally(f);
    t.compared++;
    const diff = absDiff(f.dtype, served.value, offline.value);
    if (diff !== undefined) {
      t.diffSum += diff;
      t.diffCount++;
      t.maxAbsDiff = Math.max(t.maxAbsDiff ?? 0, diff);
      if (hasSmape(f.dtype)) {
        t.smapeSum += smapeTerm(f.dtype, served.value as number, offline.value as number);
        t.smapeCount++;
      }
    }
    if (sameValue(f.dtype, served.value, offline.value, this.tolerance)) {
      t.equal++;
      return undefined;
    }
    t.mismatched++;
    if (served.status !== 'PRESENT' && offline.status === 'PRESENT') t.missing++;
    if (served.status === 'PRESENT' && offline.status !== 'PRESENT') t.extra++;
    const cause = causeOf(served, offline, f.ttlSeconds);
    t.causes[cause]++;
    const example: Example = {
      feature: f.ref, entity: ctx.entity, requestMs: served.requestMs, requestId: ctx.requestId, bundleVersion: ctx.bundleVersion, cause, absDiff: diff ?? null,
      served: { value: served.value, status: served.status, tier: served.tier, eventMs: served.eventMs, createdMs: served.createdMs },
      offline: { value: offline.value, status: offline.status, eventMs: offline.eventMs, createdMs: offline.createdMs },
    };
    const key = `${f.ref}\u0000${cause}\u0000${JSON.stringify(ctx.entity)}`;
    if (this.exampled.has(key)) return cause;
    this.exampled.add(key);
    if (t.examples.filter((e) => e.cause === cause).length < this.examplesPerCause) t.examples.push(example);
    this.worst.push(example);
    if (this.worst.length > 4 * this.worstCount) this.worst = this.worst.sort(worseFirst).slice(0, this.worstCount);
    return cause;
  }

  summary(): ShadowSummary {
    const features: FeatureSummary[] = [...this.tallies.values()].map(({ diffSum, diffCount, smapeSum, smapeCount, ...t }) => ({
      ...t,
      meanAbsDiff: diffCount === 0 ? null : diffSum / diffCount,
      smape: smapeCount === 0 ? null : (100 * smapeSum) / smapeCount,
    }));
    const causes = noCauses();
    for (const f of features) for (const c of CAUSES) causes[c] += f.causes[c];
    return {
      features,
      worst: this.worst.sort(worseFirst).slice(0, this.worstCount),
      records: this.records,
      compared: features.reduce((s, f) => s + f.compared, 0),
      equal: features.reduce((s, f) => s + f.equal, 0),
      mismatched: features.reduce((s, f) => s + f.mismatched, 0),
      causes,
      firstRequestMs: this.first,
      lastRequestMs: this.last,
      bundleVersions: [...this.versions].sort((a, b) => a - b),
    };
  }
}

export interface Verdict {
  pass: boolean;
  /** One line per feature over the limit. */
  failures: string[];
}

/**
 * Fails when any feature's skew rate or unexplained rate (of its compared
 * values) is above `maxRate`: the two causes that are not explained by
 * timing or coverage.
 */
export function verdict(summary: ShadowSummary, maxRate: number): Verdict {
  const failures: string[] = [];
  for (const f of summary.features) {
    if (f.compared === 0) continue;
    for (const cause of ['skew', 'unexplained'] as const) {
      const rate = f.causes[cause] / f.compared;
      if (rate > maxRate) failures.push(`${f.feature}: ${cause} rate ${(100 * rate).toFixed(2)}% (${f.causes[cause]} of ${f.compared}) is above --max-mismatch ${(100 * maxRate).toFixed(2)}%`);
    }
  }
  return { pass: failures.length === 0, failures };
}
