/**
 * larder's runtime-agnostic core: definitions, the as-of rule, the bundle
 * format and the lookup path. No Node-only APIs: this runs in browsers,
 * Deno, Bun and edge workers too.
 */
export * from './errors.js';
export * from './dtypes.js';
export * from './time.js';
export * from './asof.js';
export * from './keys.js';
export * from './stats.js';
export type * from './repo/types.js';
export * from './repo/define.js';
export { validateRepo } from './repo/validate.js';
export * from './bundle/format.js';
export { encodeBundle, type BundleInput, type ViewSnapshot } from './bundle/encode.js';
export { decodeBundle, decodeManifest, type DecodedBundle } from './bundle/decode.js';
export { BundleData, BundleView } from './bundle/bundle.js';
export * from './resolve/tier.js';
export * from './resolve/resolver.js';
export { BundleTier, BundleRow } from './resolve/tiers/bundle.js';
export { LruTier, estimateRowBytes } from './resolve/tiers/lru.js';
export * from './feast/catalog.js';
export { SelectionCache, type Selection, type OutputColumn, type FeatureRef } from './feast/selection.js';
export * from './feast/request.js';
export * from './feast/answer.js';
export * from './feast/online.js';
export { Bundle, type EntityKeyInput, type LocalReadOptions } from './local-store.js';
