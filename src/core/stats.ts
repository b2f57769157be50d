/**
 * Per-feature distribution stats stored in a bundle's manifest: the training
 * distribution that drift checks compare served values against.
 */
import type { Dtype } from './dtypes.js';

export const HISTOGRAM_BINS = 20;
export const TOP_VALUES = 10;

export interface FeatureStats {
  count: number;
  nullCount: number;
  /** nullCount / count; 0 for an empty column. */
  nullRate: number;
  /** Numbers (int64, float32, float64; timestamp in epoch ms). */
  min?: number;
  max?: number;
  mean?: number;
  /** Fixed-width bins from min to max; the last bin includes max. */
  histogram?: { min: number; max: number; counts: number[] };
  /** Strings and bools: most frequent values, most frequent first. */
  topValues?: { value: string | boolean; count: number }[];
  /** Lists: element counts per non-null value. */
  length?: { min: number; max: number; mean: number };
}

const NUMERIC: ReadonlySet<Dtype> = new Set(['int64', 'float32', 'float64', 'timestamp']);

export function computeStats(dtype: Dtype, values: ArrayLike<unknown>): FeatureStats {
  const count = values.length;
  let nullCount = 0;
  for (let i = 0; i < count; i++) if (values[i] === null || values[i] === undefined) nullCount++;
  const stats: FeatureStats = { count, nullCount, nullRate: count === 0 ? 0 : nullCount / count };
  if (NUMERIC.has(dtype)) Object.assign(stats, numericStats(values as ArrayLike<number | null>));
  else if (dtype === 'string' || dtype === 'bool') stats.topValues = topValues(values as ArrayLike<string | boolean | null>);
  else stats.length = lengthStats(values as ArrayLike<unknown[] | null>);
  return stats;
}

function numericStats(values: ArrayLike<number | null>): Partial<FeatureStats> {
  let min = Infinity;
  let max = -Infinity;
  let sum = 0;
  let n = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v === null || v === undefined || Number.isNaN(v)) continue;
    if (v < min) min = v;
    if (v > max) max = v;
    sum += v;
    n++;
  }
  if (n === 0) return {};
  const counts = new Array<number>(HISTOGRAM_BINS).fill(0);
  const width = (max - min) / HISTOGRAM_BINS;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v === null || v === undefined || Number.isNaN(v)) continue;
    const bin = width === 0 ? 0 : Math.min(HISTOGRAM_BINS - 1, Math.floor((v - min) / width));
    counts[bin]!++;
  }
  return { min, max, mean: sum / n, histogram: { min, max, counts } };
}

function topValues(values: ArrayLike<string | boolean | null>): FeatureStats['topValues'] {
  const counts = new Map<string | boolean, number>();
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v === null || v === undefined) continue;
    counts.set(v, (counts.get(v) ?? 0) + 1);
  }
  return [...counts]
    .sort((a, b) => b[1] - a[1] || String(a[0]).localeCompare(String(b[0])))
    .slice(0, TOP_VALUES)
    .map(([value, count]) => ({ value, count }));
}

function lengthStats(values: ArrayLike<unknown[] | null>): FeatureStats['length'] {
  let min = Infinity;
  let max = -Infinity;
  let sum = 0;
  let n = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!v) continue;
    min = Math.min(min, v.length);
    max = Math.max(max, v.length);
    sum += v.length;
    n++;
  }
  return n === 0 ? undefined : { min, max, mean: sum / n };
}
