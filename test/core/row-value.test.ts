/**
 * Standalone row values (what Redis holds) come from the bundle's own row
 * encoder and decoder: every dtype reads back as the bundle reads the same
 * source row, and a damaged value is refused, not misread.
 */
import { describe, expect, it } from 'vitest';
import { RowValueCodec, RowValueError } from '../../src/core/bundle/row-value.js';
import { entityKeyString } from '../../src/core/keys.js';
import { Bundle } from '../../src/core/local-store.js';
import type { FeatureViewDef } from '../../src/core/repo/types.js';
import { bundleBytes, repoWith } from './helpers.js';

const T0 = Date.parse('2025-12-31T23:00:00Z');

const view: FeatureViewDef = {
  name: 'user_stats', entities: ['user'], source: 'src', ttlSeconds: 0,
  features: [
    { name: 'clicks', dtype: 'int64' },
    { name: 'ctr', dtype: 'float32' },
    { name: 'spend', dtype: 'float64' },
    { name: 'country', dtype: 'string' },
    { name: 'segment', dtype: 'string' },
    { name: 'is_vip', dtype: 'bool' },
    { name: 'last_seen', dtype: 'timestamp' },
    { name: 'embedding', dtype: 'float32[]' },
    { name: 'tags', dtype: 'string[]' },
    { name: 'recent_items', dtype: 'int64[]' },
  ],
};

const rows = [
  { key: '1', clicks: 5, ctr: 0.1, spend: 10.125, country: 'DE', segment: 'gold ✓', is_vip: true, last_seen: T0, embedding: [0.1, -1, 2], tags: ['a', 'b'], recent_items: [1, 2, 2 ** 40] },
  { key: '2', clicks: null, ctr: null, spend: null, country: null, segment: null, is_vip: null, last_seen: null, embedding: null, tags: null, recent_items: null },
  { key: '3', clicks: -7, ctr: 1e-3, spend: -0.5, country: 'Zürich ✓ '.repeat(40), segment: 'gold ✓', is_vip: false, last_seen: T0 + 1500, embedding: [], tags: [], recent_items: [] },
  { key: entityKeyString([4, 'p✓']), clicks: 1, ctr: 2, spend: 3, country: '', segment: 'x', is_vip: false, last_seen: 0, embedding: [0.3, null, 0.7], tags: ['', null], recent_items: [null, 3] },
];
const columns = view.features.map((f) => rows.map((r) => r[f.name as keyof (typeof rows)[number]]));
const created = [T0 + 5, null, T0 + 7, null];

describe('standalone row values', () => {
  it('read back as the bundle reads the same rows, every dtype, nulls and null list elements included', async () => {
    const codec = new RowValueCodec(view.features);
    const values: Uint8Array[] = [];
    codec.encode(rows.map((r) => r.key), rows.map(() => T0), created, columns, (i, v) => (values[i] = v));
    const bundle = await Bundle.decode(await bundleBytes(repoWith([view]), [{
      name: 'user_stats', joinKeys: [{ name: 'user_id', dtype: 'int64' }], keys: rows.map((r) => r.key), eventTsMs: rows.map(() => T0), createdTsMs: created,
      columns: Object.fromEntries(view.features.map((f, i) => [f.name, columns[i]!])),
    }]));
    const bv = bundle.view('user_stats')!;
    // Decode in an order that reuses the scratch after a long value.
    for (const i of [2, 0, 3, 1, 2]) {
      const decoded = codec.decode(values[i]!);
      const record = bv.rowOf(rows[i]!.key);
      expect(decoded).toEqual({ key: rows[i]!.key, ...bv.row(record) });
      expect(RowValueCodec.eventTsMs(values[i]!)).toBe(T0);
    }
    // float32 lists hold float32s whichever way they are stored.
    expect(codec.decode(values[3]!).values[7]).toEqual([Math.fround(0.3), null, Math.fround(0.7)]);
    expect(codec.decode(values[0]!).values[7]).toEqual([Math.fround(0.1), -1, 2]);
  });

  it('one layout per definition: the fingerprint changes with a name, a dtype or the order', () => {
    const fp = (features: FeatureViewDef['features']) => new RowValueCodec(features).fingerprint;
    const base = fp(view.features);
    expect(fp(view.features)).toBe(base);
    expect(fp([...view.features].reverse())).not.toBe(base);
    expect(fp(view.features.map((f, i) => (i === 0 ? { ...f, name: 'clicks2' } : f)))).not.toBe(base);
    expect(fp(view.features.map((f, i) => (i === 0 ? { ...f, dtype: 'float64' as const } : f)))).not.toBe(base);
  });

  it('refuses a truncated value or one whose references point outside it', () => {
    const codec = new RowValueCodec(view.features);
    const value = codec.encodeOne('1', T0, null, rows[0]!.key === '1' ? view.features.map((f) => rows[0]![f.name as keyof (typeof rows)[number]]) : []);
    expect(() => codec.decode(value.subarray(0, 10))).toThrow(RowValueError);
    expect(() => codec.decode(value.subarray(0, value.length - 3))).toThrow(RowValueError);
    expect(codec.decode(value).values[0]).toBe(5);
  });
});
