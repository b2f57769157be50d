/** Small builders for core tests: a repo and bundle bytes made through the real encoder. */
import { encodeBundle, type BundleInput, type ViewSnapshot } from '../../src/core/bundle/encode.js';
import { defineRepo } from '../../src/core/repo/define.js';
import type { FeatureViewDef, RepoDef } from '../../src/core/repo/types.js';

export function repoWith(views: FeatureViewDef[], extra: Partial<RepoDef> = {}): RepoDef {
  return defineRepo({
    project: 'shop',
    entities: [
      { name: 'user', joinKeys: ['user_id'] },
      { name: 'product', joinKeys: ['product_id'] },
    ],
    sources: [{ name: 'src', path: 'data/*.parquet', timestampField: 'ts' }],
    featureViews: views,
    featureServices: [],
    ...extra,
  });
}

export function bundleBytes(repo: RepoDef, views: ViewSnapshot[], overrides: Partial<BundleInput> = {}): Promise<Uint8Array> {
  return encodeBundle({
    project: repo.project,
    version: 1,
    parentVersion: null,
    createdAt: new Date('2026-01-02T00:00:00Z'),
    asOf: new Date('2026-01-01T00:00:00Z'),
    repo,
    views,
    ...overrides,
  });
}
