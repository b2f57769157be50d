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
import type { Bundle } from '../core/bundle/bundle.js';
import type { BundleManifest } from '../core/bundle/format.js';
import { BundleTier } from '../core/resolve/bundle-tier.js';
import type { ServingCatalog } from '../core/resolve/catalog.js';
import type { LruTier } from '../core/resolve/lru-tier.js';
import { Resolver } from '../core/resolve/resolver.js';
import type { Tier } from '../core/resolve/tier.js';

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
  now: () => number;
}

export class ServingStateHolder {
  readonly lru: LruTier;
  private readonly after: readonly Tier[];
  private readonly now: () => number;
  private state: ServingState | undefined;
  /** Why nothing is served yet, for /ready; set by the bundle source. */
  notReadyReason = 'no bundle loaded yet';

  constructor(opts: ServingStateOptions) {
    this.lru = opts.lru;
    this.after = opts.tiersAfterBundle ?? [];
    this.now = opts.now;
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
      resolver: new Resolver([...(this.after.some((t) => t.worthCaching) ? [this.lru] : []), new BundleTier(bundle), ...this.after]),
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
