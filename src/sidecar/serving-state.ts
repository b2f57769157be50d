/**
 * What the sidecar serves right now: one bundle with its catalog and the
 * resolver over the tiers [LRU, bundle, ...tiers after the bundle]. The LRU
 * keeps only rows of tiers worth caching (Redis); with none configured it
 * could never hold a row, so it is left out of the walk. A new
 * bundle is installed by building a complete new state and then replacing
 * the one reference, so a request sees either the old state or the new one,
 * never a mix. The LRU is shared across states and cleared on every swap,
 * because its rows belong to the bundle they were read from.
 */
import type { BundleManifest } from '../core/bundle/format.js';
import type { ServingCatalog } from '../core/feast/catalog.js';
import type { Bundle } from '../core/local-store.js';
import { Resolver } from '../core/resolve/resolver.js';
import { BUNDLE_TIER_NAME, DEFAULT_TIER_NAME, type Tier } from '../core/resolve/tier.js';
import { BundleTier } from '../core/resolve/tiers/bundle.js';
import type { LruTier } from '../core/resolve/tiers/lru.js';

export interface ServingState {
  readonly bundle: Bundle;
  readonly manifest: BundleManifest;
  readonly catalog: ServingCatalog;
  readonly resolver: Resolver;
  readonly version: number;
  /** The version as the `x-larder-bundle-version` header carries it, made once. */
  readonly versionHeader: string;
  /** Where the bundle came from (a file path), for logs. */
  readonly origin: string;
  /** When this state was installed, epoch ms. */
  readonly installedAtMs: number;
}

export interface ServingStateOptions {
  lru: LruTier;
  /**
   * Tiers consulted after the bundle for keys it does not hold (the Redis
   * read-through tier goes here). Routes never see tiers, only the resolver.
   */
  tiersAfterBundle?: readonly Tier[];
  /**
   * Tiers consulted before the bundle (pushed rows over it, which do not
   * settle their keys, so the newest of them and the bundle's row wins).
   */
  tiersBeforeBundle?: readonly Tier[];
  /** Views whose bundle rows do not settle their keys (see BundleTier); live. */
  bundleUnsettled?: { has(view: string): boolean };
  now: () => number;
  /** Told when a tier fails or passes its deadline (metrics, logs). */
  onTierError?: (tier: Tier, error: unknown) => void;
}

export class ServingStateHolder {
  readonly lru: LruTier;
  private readonly before: readonly Tier[];
  private readonly after: readonly Tier[];
  private readonly now: () => number;
  private readonly bundleUnsettled: { has(view: string): boolean } | undefined;
  private readonly onTierError: ((tier: Tier, error: unknown) => void) | undefined;
  private state: ServingState | undefined;
  /** Why nothing is served yet, for /ready; set by the bundle source. */
  notReadyReason = 'no bundle loaded yet';

  constructor(opts: ServingStateOptions) {
    this.lru = opts.lru;
    this.before = opts.tiersBeforeBundle ?? [];
    this.after = opts.tiersAfterBundle ?? [];
    this.now = opts.now;
    this.bundleUnsettled = opts.bundleUnsettled;
    this.onTierError = opts.onTierError;
  }

  /** The tier names a request's answer is counted under, in walk order, then 'default'. */
  tierNames(): readonly string[] {
    return this.state?.resolver.tierNames ?? [...this.walk({ name: BUNDLE_TIER_NAME }).map((t) => t.name), DEFAULT_TIER_NAME];
  }

  /**
   * The walk: the LRU (only when a tier worth caching feeds it: else it
   * could never hold a row), tiers before the bundle, the bundle, the rest.
   */
  private walk<B extends { name: string }>(bundleTier: B): (Tier | B)[] {
    const lru = this.after.some((t) => t.worthCaching) ? [this.lru] : [];
    return [...lru, ...this.before, bundleTier, ...this.after];
  }

  get current(): ServingState | undefined {
    return this.state;
  }

  /** Builds the state for `bundle`, swaps it in and clears the LRU. Returns the previous state. */
  install(bundle: Bundle, origin: string): ServingState | undefined {
    const next: ServingState = {
      bundle,
      manifest: bundle.manifest,
      catalog: bundle.catalog,
      resolver: new Resolver(this.walk(new BundleTier(bundle.data, this.bundleUnsettled)), { onTierError: this.onTierError }),
      version: bundle.version,
      versionHeader: String(bundle.version),
      origin,
      installedAtMs: this.now(),
    };
    const previous = this.state;
    this.state = next;
    this.lru.clear();
    return previous;
  }
}
