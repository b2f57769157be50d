/**
 * The shadow comparison's maths: whether a served value equals the training
 * value recomputed offline, how far apart two numbers are, and the cause of
 * every difference.
 *
 * Equality is at the feature's own precision: float32 values (and float32[]
 * elements) are compared as float32, timestamps as epoch milliseconds
 * (served as RFC 3339 text, stored as numbers), lists element by element.
 * A tolerance (abs, rel) accepts numbers within `abs` of each other, or
 * within `rel` times the larger of the two.
 *
 * Causes, for a served value that differs from the training value at its
 * request time (served row: the row the sidecar answered from; offline
 * row: the rule's winner in the offline data now):
 *
 *   skew         the same source row on both sides (equal event and created
 *                time) with a different value: one path computes it
 *                differently. A real bug.
 *   ttl          the hole boundary fell between snapshot and request: the
 *                served row was fresh at the bundle's as_of and past its TTL
 *                at the request, while offline a newer row was fresh; or the
 *                sidecar answers stale rows' values (--serve-stale) where
 *                training reads the default.
 *   stale        offline has a newer row than the one served, written after
 *                the bundle's as_of (its event or created time is later): the
 *                bundle had not seen it yet. Or the row was served by the
 *                online store (Redis, a pushed row, or the LRU holding one of
 *                theirs): materialize or push had not written the newer row
 *                (the store keeps no time of its own to check it against).
 *   not_held     no tier held the key (a bundle of hot keys only, and no
 *                tier behind it), though offline had a row before as_of.
 *   unexplained  anything else: a served row newer than any offline one, a
 *                row before as_of the bundle should have held. Investigate.
 */
import { type FieldStatus, compareVersions, isFreshAt } from '../asof.js';
import type { Dtype } from '../dtypes.js';
import { BUNDLE_TIER_NAME, DEFAULT_TIER_NAME } from '../resolve/tier.js';

export interface Tolerance {
  abs: number;
  rel: number;
}

export const EXACT: Tolerance = { abs: 0, rel: 0 };

export const CAUSES = ['stale', 'ttl', 'skew', 'not_held', 'unexplained'] as const;
export type Cause = (typeof CAUSES)[number];

const isNull = (v: unknown): boolean => v === null || v === undefined;

function toMs(v: unknown): number {
  if (typeof v === 'string') return Date.parse(v);
  if (v instanceof Date) return v.getTime();
  return Number(v);
}

/** A scalar value as compared: numbers (float32 rounded, timestamps in ms), strings and bools as they are. */
function scalar(dtype: Dtype, v: unknown): unknown {
  if (isNull(v)) return null;
  switch (dtype) {
    case 'int64':
    case 'float64':
    case 'int64[]':
      return Number(v);
    case 'float32':
    case 'float32[]':
      return Math.fround(Number(v));
    case 'timestamp':
      return toMs(v);
    default:
      return v;
  }
}

const isList = (dtype: Dtype) => dtype.endsWith('[]');

function asArray(v: unknown): unknown[] | undefined {
  if (Array.isArray(v)) return v;
  if (ArrayBuffer.isView(v)) return Array.from(v as unknown as ArrayLike<number>);
  return undefined;
}

function close(x: unknown, y: unknown, tol: Tolerance): boolean {
  if (x === y) return true;
  if (typeof x !== 'number' || typeof y !== 'number') return false;
  const d = Math.abs(x - y);
  return d <= tol.abs || d <= tol.rel * Math.max(Math.abs(x), Math.abs(y));
}

/** Whether served value `a` equals training value `b` of a `dtype` feature, within `tol`. */
export function sameValue(dtype: Dtype, a: unknown, b: unknown, tol: Tolerance = EXACT): boolean {
  if (isNull(a) || isNull(b)) return isNull(a) && isNull(b);
  if (!isList(dtype)) return close(scalar(dtype, a), scalar(dtype, b), tol);
  const xs = asArray(a);
  const ys = asArray(b);
  if (!xs || !ys || xs.length !== ys.length) return false;
  for (let i = 0; i < xs.length; i++) {
    if (isNull(xs[i]) || isNull(ys[i])) {
      if (!(isNull(xs[i]) && isNull(ys[i]))) return false;
    } else if (!close(scalar(dtype, xs[i]), scalar(dtype, ys[i]), tol)) return false;
  }
  return true;
}

/**
 * |a - b| for numbers and timestamps (ms); for lists of numbers of equal
 * length, the largest element difference. Undefined when either is null or
 * the values are not numbers.
 */
export function absDiff(dtype: Dtype, a: unknown, b: unknown): number | undefined {
  if (isNull(a) || isNull(b) || dtype === 'string' || dtype === 'bool' || dtype === 'string[]') return undefined;
  if (!isList(dtype)) {
    const d = Math.abs((scalar(dtype, a) as number) - (scalar(dtype, b) as number));
    return Number.isNaN(d) ? undefined : d;
  }
  const xs = asArray(a);
  const ys = asArray(b);
  if (!xs || !ys || xs.length !== ys.length) return undefined;
  let max = 0;
  for (let i = 0; i < xs.length; i++) {
    if (isNull(xs[i]) || isNull(ys[i])) continue;
    max = Math.max(max, Math.abs((scalar(dtype, xs[i]) as number) - (scalar(dtype, ys[i]) as number)));
  }
  return max;
}

/** Whether SMAPE applies: plain numbers. */
export const hasSmape = (dtype: Dtype): boolean => dtype === 'int64' || dtype === 'float32' || dtype === 'float64';

/** One pair's symmetric absolute percentage error, 0..2 (0 when both are 0). */
export function smapeTerm(dtype: Dtype, a: number, b: number): number {
  const x = scalar(dtype, a) as number;
  const y = scalar(dtype, b) as number;
  const denom = (Math.abs(x) + Math.abs(y)) / 2;
  return denom === 0 ? 0 : Math.abs(x - y) / denom;
}

/** What the sidecar served for one (entity, feature), from its log. */
export interface ServedSide {
  value: unknown;
  status: FieldStatus;
  tier: string;
  eventMs: number | null;
  createdMs: number | null;
  requestMs: number;
  bundleAsOfMs: number;
  serveStale: boolean;
}

/** The training value recomputed offline at the request time, and the row it came from. */
export interface OfflineSide {
  value: unknown;
  status: FieldStatus;
  eventMs: number | null;
  createdMs: number | null;
}

const row = (eventMs: number | null, createdMs: number | null) => (eventMs === null ? undefined : { eventTsMs: eventMs, createdTsMs: createdMs });

/** The cause of a difference between `served` and `offline` for a feature of a view with `ttlSeconds` (see the table above). */
export function causeOf(served: ServedSide, offline: OfflineSide, ttlSeconds: number): Cause {
  const s = row(served.eventMs, served.createdMs);
  const o = row(offline.eventMs, offline.createdMs);
  if (s && o && compareVersions(s, o) === 0) {
    return served.status === 'OUTSIDE_MAX_AGE' && served.serveStale ? 'ttl' : 'skew';
  }
  if (o && (!s || compareVersions(o, s) > 0)) {
    const asOf = served.bundleAsOfMs;
    if (s && served.status === 'OUTSIDE_MAX_AGE' && isFreshAt(s.eventTsMs, asOf, ttlSeconds)) return 'ttl';
    if (o.eventTsMs > asOf || (o.createdTsMs !== null && o.createdTsMs > asOf)) return 'stale';
    if (!s && served.tier === DEFAULT_TIER_NAME) return 'not_held';
    if (s && served.tier !== BUNDLE_TIER_NAME) return 'stale';
  }
  return 'unexplained';
}
