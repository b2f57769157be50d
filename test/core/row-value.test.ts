/**
 * Standalone row values (what Redis holds) come from the bundle's own row
 * encoder and decoder: every dtype reads back as the bundle reads the same
 * source row, and a damaged value is refused, not misread.
 */
import { describe, expect, it } from 'vitest';
import { RowValueCodec, RowValueError, packedValue } from '../../src/core/bundle/row-value.js';
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

  it('packs rows end to end, each the value encode gives; a dense number column reads the same as a Float64Array', () => {
    const codec = new RowValueCodec(view.features);
    const keys = rows.map((r) => r.key);
    const values: Uint8Array[] = [];
    codec.encode(keys, rows.map(() => T0), created, columns, (i, v) => (values[i] = v));
    const packed = codec.encodePacked(keys, rows.map(() => T0), created, columns);
    expect(packed.offsets.length).toBe(rows.length + 1);
    expect(packed.offsets[0]).toBe(0);
    expect(packed.offsets[rows.length]).toBe(packed.bytes.length);
    rows.forEach((_, i) => expect(packedValue(packed, i)).toEqual(values[i]));
    // Rows 2 and 3 alone: the same values but for the zero bytes that pad a row's end to 4 (the last row has none).
    const two = codec.encodePacked(keys.slice(2), [T0, T0], created.slice(2), columns.map((c) => c.slice(2)));
    expect(packedValue(two, 0)).toEqual(values[2]);
    const last = packedValue(two, 1);
    expect(last).toEqual(values[3]!.subarray(0, last.length));
    expect(values[3]!.subarray(last.length).every((b) => b === 0)).toBe(true);
    expect(codec.decode(last)).toEqual(codec.decode(values[3]!));
    // Number columns with no nulls, as DuckDB's reader hands them over.
    const dense = [rows[0]!, rows[2]!];
    const plain = view.features.map((f) => dense.map((r) => r[f.name as keyof (typeof rows)[number]]));
    const typed = plain.map((c, f) => (['int64', 'float32', 'float64', 'timestamp'].includes(view.features[f]!.dtype) ? Float64Array.from(c as number[]) : c));
    const a = codec.encodePacked(['1', '3'], [T0, T0 + 1], undefined, plain);
    const b = codec.encodePacked(['1', '3'], [T0, T0 + 1], undefined, typed);
    expect(b.bytes).toEqual(a.bytes);
    expect(codec.decode(packedValue(b, 1)).values.slice(0, 3)).toEqual([-7, Math.fround(1e-3), -0.5]);
  });

  it('an int64 or timestamp a Float64Array column cannot store is refused, naming the feature and row', () => {
    const codec = new RowValueCodec([{ name: 'n', dtype: 'int64' }, { name: 'at', dtype: 'timestamp' }]);
    expect(() => codec.encodePacked(['1', '2'], [T0, T0], undefined, [Float64Array.of(1, 2.5), Float64Array.of(T0, T0)])).toThrow('feature "n" (int64): row 1: 2.5 is not a safe integer');
    expect(() => codec.encodePacked(['1', '2'], [T0, T0], undefined, [Float64Array.of(1, 2), Float64Array.of(T0, 1e20)])).toThrow(/feature "at" \(timestamp\): row 1: 100000000000000000000 is not a time larder stores/);
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
