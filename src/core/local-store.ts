/**
 * The in-process API over one bundle: `get` for stored values and Feast's
 * `getOnlineFeatures`, answered by the same resolver, value rule and answer
 * code as the sidecar (so a value read here equals the value served over
 * HTTP). Runs in any runtime with WebCrypto; `openBundle` in the Node entry
 * opens files.
 */
import { DEFAULT_VALUE_RULE, type ValueRule } from './asof.js';
import { BundleData, type BundleView } from './bundle/bundle.js';
import type { Sha256Hex } from './bundle/decode.js';
import type { BundleManifest } from './bundle/format.js';
import { LarderError } from './errors.js';
import { type ServingCatalog, catalogFromManifest } from './feast/catalog.js';
import { getOnlineFeatures } from './feast/online.js';
import type { OnlineFeaturesRequest, OnlineFeaturesResponse } from './feast/request.js';
import { entityKeyString } from './keys.js';
import { Resolver } from './resolve/resolver.js';
import { BundleTier } from './resolve/tiers/bundle.js';

export type EntityKeyInput = string | number | readonly (string | number)[];

export interface LocalReadOptions {
  /** The time statuses are judged at (default: the current time). */
  now?: Date;
  /** Answer a stale row's own value instead of the feature's default, as Feast's servers do (status OUTSIDE_MAX_AGE either way). */
  serveStale?: boolean;
}

export class Bundle {
  readonly data: BundleData;
  readonly catalog: ServingCatalog;
  private resolver: Resolver | undefined;

  constructor(data: BundleData) {
    this.data = data;
    this.catalog = catalogFromManifest(data.manifest);
  }

  /** Decodes and verifies bundle bytes (any runtime). */
  static async decode(bytes: Uint8Array, sha256?: Sha256Hex): Promise<Bundle> {
    return new Bundle(await BundleData.decode(bytes, sha256));
  }

  get manifest(): BundleManifest {
    return this.data.manifest;
  }

  get version(): number {
    return this.data.version;
  }

  get byteLength(): number {
    return this.data.byteLength;
  }

  view(name: string): BundleView | undefined {
    return this.data.view(name);
  }

  /**
   * The stored feature values of one entity, by feature name, or undefined
   * when the bundle does not hold the key. No TTL judgement and no
   * defaults: see getOnlineFeatures for the value rule.
   */
  get(viewName: string, entityKey: EntityKeyInput): Record<string, unknown> | undefined {
    const view = this.data.view(viewName);
    if (!view) throw new LarderError('LARDER_ERR_UNKNOWN_VIEW', `unknown feature view "${viewName}" (bundle holds: ${this.data.viewNames().join(', ')})`);
    const key = typeof entityKey === 'string' ? entityKey : typeof entityKey === 'number' ? String(entityKey) : entityKeyString(entityKey);
    const row = view.rowOf(key);
    if (row < 0) return undefined;
    return view.object(row);
  }

  /**
   * Feast's get-online-features, answered from this bundle alone: keys it
   * does not hold are NOT_FOUND. Statuses are judged at `now` (default: the
   * current time); every hole reads as the feature's default.
   */
  getOnlineFeatures(request: OnlineFeaturesRequest, opts: LocalReadOptions = {}): OnlineFeaturesResponse {
    this.resolver ??= new Resolver([new BundleTier(this.data)]);
    const nowMs = (opts.now ?? new Date()).getTime();
    const rule: ValueRule = opts.serveStale ? { serveStale: true } : DEFAULT_VALUE_RULE;
    // Only the bundle tier is consulted, and it is synchronous.
    return getOnlineFeatures(this.catalog, this.resolver, request, { nowMs, rule }) as OnlineFeaturesResponse;
  }
}
