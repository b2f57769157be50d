/**
 * The catalog keeps the feature lists requests gave last, resolved: a
 * repeated list must answer exactly as a new one would, whatever was asked
 * before it.
 */
import { describe, expect, it } from 'vitest';
import { Bundle } from '../../src/core/local-store.js';
import { LarderError } from '../../src/core/errors.js';
import type { FeatureViewDef } from '../../src/core/repo/types.js';
import { bundleBytes, repoWith } from './helpers.js';

const T0 = Date.parse('2026-01-01T00:00:00Z');

const stats: FeatureViewDef = {
  name: 'stats', entities: ['user'], source: 'src', ttlSeconds: 0,
  features: [
    { name: 'clicks', dtype: 'int64' },
    { name: 'ctr', dtype: 'float32' },
    { name: 'spend', dtype: 'float64' },
  ],
};

async function statsBundle(): Promise<Bundle> {
  const repo = repoWith([stats], { featureServices: [{ name: 'all', features: ['stats:*'] }] });
  return Bundle.decode(await bundleBytes(repo, [
    { name: 'stats', joinKeys: [{ name: 'user_id', dtype: 'int64' }], keys: ['1'], eventTsMs: [T0], columns: { clicks: [7], ctr: [0.5], spend: [12.25] } },
  ]));
}

const ask = (b: Bundle, features: unknown, fullNames = false) =>
  b.getOnlineFeatures({ features: features as string[], entities: { user_id: [1] }, full_feature_names: fullNames }, { now: new Date(T0) });

describe('feature list selections', () => {
  it('a repeated list is the same selection, and answers the same', async () => {
    const b = await statsBundle();
    const first = b.catalog.selections.select(['stats:clicks', 'stats:ctr'], false);
    // A new array with the same strings, as the next request's JSON gives it.
    expect(b.catalog.selections.select(['stats:clicks', 'stats:ctr'], false)).toBe(first);
    expect(first.names).toEqual(['clicks', 'ctr']);
    expect(first.outputs.map((o) => o.float32)).toEqual([false, true]);
    expect(ask(b, ['stats:clicks', 'stats:ctr'])).toEqual(ask(b, ['stats:clicks', 'stats:ctr']));
  });

  it('tells apart lists that differ in order, length, one name, or full_feature_names', async () => {
    const b = await statsBundle();
    const values = (features: string[], fullNames = false) => {
      const r = ask(b, features, fullNames);
      return { names: r.metadata.feature_names, values: r.results.map((c) => c.values[0]) };
    };
    expect(values(['stats:clicks', 'stats:spend'])).toEqual({ names: ['user_id', 'clicks', 'spend'], values: [1, 7, 12.25] });
    expect(values(['stats:spend', 'stats:clicks'])).toEqual({ names: ['user_id', 'spend', 'clicks'], values: [1, 12.25, 7] });
    expect(values(['stats:spend'])).toEqual({ names: ['user_id', 'spend'], values: [1, 12.25] });
    expect(values(['stats:spend', 'stats:ctr'])).toEqual({ names: ['user_id', 'spend', 'ctr'], values: [1, 12.25, 0.5] });
    expect(values(['stats:spend', 'stats:ctr'], true)).toEqual({ names: ['user_id', 'stats__spend', 'stats__ctr'], values: [1, 12.25, 0.5] });
    expect(values(['stats:spend', 'stats:ctr'])).toEqual({ names: ['user_id', 'spend', 'ctr'], values: [1, 12.25, 0.5] });
  });

  it('keeps its own copy: changing a request array afterwards changes nothing', async () => {
    const b = await statsBundle();
    const list = ['stats:clicks', 'stats:ctr'];
    const selection = b.catalog.selections.select(list, false);
    list[0] = 'stats:spend';
    expect(selection.names).toEqual(['clicks', 'ctr']);
    expect(ask(b, ['stats:spend', 'stats:ctr']).metadata.feature_names).toEqual(['user_id', 'spend', 'ctr']);
    expect(ask(b, ['stats:clicks', 'stats:ctr']).metadata.feature_names).toEqual(['user_id', 'clicks', 'ctr']);
  });

  it('still refuses a bad list that starts like a kept one', async () => {
    const b = await statsBundle();
    ask(b, ['stats:clicks', 'stats:ctr']);
    const refused = (features: unknown) => {
      try {
        ask(b, features);
      } catch (e) {
        return e instanceof LarderError ? `${e.code}: ${e.message}` : String(e);
      }
      return 'answered';
    };
    expect(refused(['stats:clicks', 5])).toMatch(/LARDER_ERR_BAD_REQUEST: "features" must be a non-empty array of "view:feature" strings/);
    expect(refused(['stats:clicks', 'stats:nope'])).toMatch(/^LARDER_ERR_UNKNOWN_FEATURE: feature view "stats" has no feature "nope" \(it has: clicks, /);
    expect(refused([])).toMatch(/LARDER_ERR_BAD_REQUEST/);
    expect(refused('stats:clicks')).toMatch(/LARDER_ERR_BAD_REQUEST/);
  });

  it('keeps a bounded number of lists, and resolves an evicted one again', async () => {
    const b = await statsBundle();
    const first = b.catalog.selections.select(['stats:clicks'], false);
    // Lists that never repeat, as a client could send them: 8 distinct ones push the first out.
    const others = [['stats:ctr'], ['stats:spend'], ['stats:clicks', 'stats:ctr'], ['stats:ctr', 'stats:clicks'], ['stats:clicks', 'stats:spend'],
      ['stats:spend', 'stats:clicks'], ['stats:ctr', 'stats:spend'], ['stats:spend', 'stats:ctr']];
    for (const list of others.slice(0, 7)) b.catalog.selections.select(list, false);
    expect(b.catalog.selections.select(['stats:clicks'], false)).toBe(first);
    b.catalog.selections.select(others[7]!, false);
    const again = b.catalog.selections.select(['stats:clicks'], false);
    expect(again).not.toBe(first);
    expect(again.names).toEqual(['clicks']);
  });

  it('a feature service is one selection', async () => {
    const b = await statsBundle();
    const refs = b.catalog.services.get('all')!;
    expect(b.catalog.selections.select(refs, true)).toBe(b.catalog.selections.select(refs, true));
    expect(b.catalog.selections.select(refs, true).names).toEqual(['stats__clicks', 'stats__ctr', 'stats__spend']);
  });
});
