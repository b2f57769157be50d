/**
 * The tier seam. A lookup walks tiers in order (LRU, bundle, Redis, ...);
 * each tier fills the keys it holds. When several tiers hold a key, the
 * newest row by the as-of rule wins (compareVersions), never simply the
 * first tier. Local tiers answer synchronously; remote ones may return a
 * promise, and must turn their own errors and timeouts into misses. The
 * resolver guards the seam anyway: a tier that throws, rejects or passes
 * its deadline leaves its keys missing.
 *
 * A tier names itself; metrics, headers and answers count whatever tiers
 * are configured, so adding a tier edits no list.
 */
import type { Versioned } from '../asof.js';
import type { JoinKeyDtype } from '../dtypes.js';
import type { FeatureDef, FeatureViewDef } from '../repo/types.js';

/** The name an entity's answer carries when no tier held its key. */
export const DEFAULT_TIER_NAME = 'default';
/** The bundle tier's name (tiers/bundle.ts): every other tier's rows come from the online store or a cache. */
export const BUNDLE_TIER_NAME = 'bundle';

/**
 * A store whose rows an answer can read feature by feature, without
 * decoding whole rows (the bundle's records).
 */
export interface ColumnReader {
  /** Feature `featureIndex` (a number dtype) of the records `records[i]` into `out` as doubles, 1 in `nulls` for null; entries whose record is -1 are left as they are. */
  readNumbers(featureIndex: number, records: Int32Array, out: Float64Array, nulls: Uint8Array): void;
  /** Feature `featureIndex` of the records `records[i]` into `out`; entries whose record is -1 are left as they are. */
  readValues(featureIndex: number, records: Int32Array, out: unknown[]): void;
}

/**
 * One entity's row of one view: every feature of the view, in definition
 * order, with the times the as-of rule orders rows by (event time, and
 * created time when the source has one).
 */
export interface Row extends Versioned {
  readonly values: readonly unknown[];
  /**
   * Set for a row that lives in a ColumnReader (a bundle record), with its
   * record index: answers read its features from there, and `values`
   * decodes the whole row only when someone asks.
   */
  readonly columns?: ColumnReader;
  readonly record?: number;
}

/** What tiers and the request planner know about a served view. */
export interface ViewSpec {
  name: string;
  def: FeatureViewDef;
  features: readonly FeatureDef[];
  featureIndex: ReadonlyMap<string, number>;
  joinKeys: readonly { name: string; dtype: JoinKeyDtype }[];
  ttlSeconds: number;
}

export interface Tier {
  /** Where an answer came from, in headers and metrics (`lru`, `bundle`, `redis`, ...). Unique per resolver; not `default`. */
  readonly name: string;
  /**
   * Whether a row found here settles its key: later tiers are not asked
   * for it. A tier that holds the merged newest row (a cache of winners)
   * or a complete snapshot settles; a tier that holds only some newer
   * rows (pushed changes over a bundle) does not, so the tiers after it
   * are asked too and the newest row wins.
   */
  readonly settles: boolean;
  /**
   * Per view, whether a row found here settles its key, when that can
   * differ from `settles`: a bundle whose view may miss pushed rows (the
   * change stream lost some) does not settle that view's keys, so the
   * tiers after it (Redis) are asked too and the newest row wins.
   * Undefined: `settles` for every view.
   */
  settlesView?(view: ViewSpec): boolean;
  /**
   * Whether the tiers above should keep this tier's rows. Only rows that
   * cost a round trip are worth it: measured, caching the in-memory
   * bundle's rows in the LRU cost more throughput than it saved (a row read
   * from the bundle is a few hundred ns, a cache insert and eviction more).
   */
  readonly worthCaching: boolean;
  /**
   * How long the resolver waits for this tier's promise, ms; past it the
   * keys it was asked for are misses and its late answer is ignored.
   * Undefined: the tier keeps its own deadline.
   */
  readonly deadlineMs?: number;
  /**
   * For each index i in `ask`, sets found[i] when this tier holds keys[i].
   * Indices it does not fill stay undefined. Never throws (the resolver
   * counts a throw as a failure and the keys as misses).
   */
  lookup(view: ViewSpec, keys: readonly string[], ask: readonly number[], found: (Row | undefined)[]): void | Promise<void>;
  /** Offered the winning rows that a later tier worth caching found, so a cache can keep them. */
  remember?(view: ViewSpec, key: string, row: Row): void;
}
