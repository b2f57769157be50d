/**
 * The tier seam. A lookup walks tiers in order (LRU, bundle, Redis, ...);
 * each tier fills the keys it holds and leaves the rest to the next. Local
 * tiers answer synchronously; remote ones may return a promise, and must turn
 * their own errors and timeouts into misses: a tier never throws.
 */
import type { JoinKeyDtype } from '../dtypes.js';
import type { FeatureDef, FeatureViewDef } from '../repo/types.js';

/** Where an answer came from; 'default' means no tier had the key. */
export type TierName = 'lru' | 'bundle' | 'redis' | 'default';
export const TIER_NAMES: readonly TierName[] = ['lru', 'bundle', 'redis', 'default'];

/** One entity's row of one view: every feature of the view, in definition order. */
export interface Row {
  /** Event time of the source row the values came from, epoch ms. */
  eventTsMs: number;
  values: readonly unknown[];
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
  readonly name: Exclude<TierName, 'default'>;
  /**
   * Whether the tiers above should keep this tier's rows. Only rows that
   * cost a round trip are worth it: measured, caching the in-memory
   * bundle's rows in the LRU cost more throughput than it saved (a row read
   * from the bundle is a few hundred ns, a cache insert and eviction more).
   */
  readonly worthCaching: boolean;
  /**
   * For each index i in `missing`, sets found[i] when this tier holds
   * keys[i]. Indices it does not fill stay undefined.
   */
  lookup(view: ViewSpec, keys: readonly string[], missing: readonly number[], found: (Row | undefined)[]): void | Promise<void>;
  /** Offered rows that a later tier worth caching found, so a cache can keep them. */
  remember?(view: ViewSpec, key: string, row: Row): void;
}
