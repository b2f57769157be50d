import { BundleRow } from '../../src/core/resolve/tiers/bundle.js';
import { describe, expect, it } from 'vitest';
import { openBundle } from '../../src/bundle-file.js';
import { Bundle } from '../../src/core/local-store.js';
import { decodeManifest } from '../../src/core/bundle/decode.js';
import { FORMAT_VERSION, HEADER_BYTES, MAGIC, sha256Hex } from '../../src/core/bundle/format.js';
import { packPlain, unpackPlain } from '../../src/core/bundle/msgpack.js';
import { LarderError } from '../../src/core/errors.js';
import { entityKeyString } from '../../src/core/keys.js';
import type { FeatureViewDef } from '../../src/core/repo/types.js';
import { bundleBytes, repoWith } from './helpers.js';

const T0 = Date.parse('2025-12-31T23:00:00Z');

const everyDtype: FeatureViewDef = {
  name: 'user_stats',
  entities: ['user'],
  source: 'src',
  ttlSeconds: 0,
  features: [
    { name: 'clicks', dtype: 'int64' },
    { name: 'ctr', dtype: 'float32' },
    { name: 'spend', dtype: 'float64' },
    { name: 'country', dtype: 'string' },
    { name: 'segment', dtype: 'string' }, // repeats: stored as a dictionary
    { name: 'is_vip', dtype: 'bool' },
    { name: 'last_seen', dtype: 'timestamp' },
    { name: 'embedding', dtype: 'float32[]' },
    { name: 'tags', dtype: 'string[]' },
    { name: 'recent_items', dtype: 'int64[]' },
  ],
};

const rows = [
  { key: 1, clicks: 5, ctr: 0.25, spend: 10.125, country: 'DE', segment: 'gold ✓', is_vip: true, last_seen: T0, embedding: [0.5, -1, 2], tags: ['a', 'b'], recent_items: [1, 2, 2 ** 40] },
  { key: 2, clicks: null, ctr: null, spend: null, country: null, segment: null, is_vip: null, last_seen: null, embedding: null, tags: null, recent_items: null },
  { key: 3, clicks: -7, ctr: 1e-3, spend: -0.5, country: 'Zürich ✓', segment: 'gold ✓', is_vip: false, last_seen: T0 + 1500, embedding: [], tags: [], recent_items: [] },
];

async function everyDtypeBundle(): Promise<Bundle> {
  const repo = repoWith([everyDtype]);
  const columns: Record<string, unknown[]> = {};
  for (const f of everyDtype.features) columns[f.name] = rows.map((r) => r[f.name as keyof typeof r]);
  return Bundle.decode(
    await bundleBytes(repo, [
      { name: 'user_stats', joinKeys: [{ name: 'user_id', dtype: 'int64' }], keys: rows.map((r) => String(r.key)), eventTsMs: rows.map(() => T0), columns },
    ]),
  );
}

describe('bundle round trip', () => {
  it('stores and reads back every dtype, nulls included', async () => {
    const b = await everyDtypeBundle();
    expect(b.get('user_stats', 1)).toEqual({
      clicks: 5, ctr: 0.25, spend: 10.125, country: 'DE', segment: 'gold ✓', is_vip: true, last_seen: '2025-12-31T23:00:00Z',
      embedding: [0.5, -1, 2], tags: ['a', 'b'], recent_items: [1, 2, 2 ** 40],
    });
    expect(Object.values(b.get('user_stats', 2)!).every((v) => v === null)).toBe(true);
    const three = b.get('user_stats', '3')!;
    expect(three.country).toBe('Zürich ✓');
    expect(three.segment).toBe('gold ✓');
    expect(three.is_vip).toBe(false);
    expect(three.last_seen).toBe('2025-12-31T23:00:01.500Z');
    expect(three.ctr).toBeCloseTo(1e-3, 6); // float32 precision
    expect(three.embedding).toEqual([]);
    expect(b.get('user_stats', 4)).toBeUndefined();
  });

  it('reads one feature across rows (readNumbers, readValues) as the whole-row decode has it, and rows by reference', async () => {
    const b = await everyDtypeBundle();
    const view = b.view('user_stats')!;
    const recordOf = (key: number) => view.rowOf(String(key));
    // Keys 3, 2 (all nulls), 1, and an entry that is not a bundle row.
    const records = Int32Array.from([recordOf(3), recordOf(2), recordOf(1), -1]);
    everyDtype.features.forEach((f, fi) => {
      const whole = [3, 2, 1].map((k) => view.row(recordOf(k)).values[fi]);
      const values: unknown[] = ['a', 'b', 'c', 'untouched'];
      view.readValues(fi, records, values);
      expect(values, f.name).toEqual([...whole, 'untouched']);
      if (f.dtype === 'int64' || f.dtype === 'float32' || f.dtype === 'float64') {
        const numbers = Float64Array.from([1, 2, 3, 4]);
        const nulls = Uint8Array.from([9, 9, 9, 9]);
        view.readNumbers(fi, records, numbers, nulls);
        expect([...nulls], f.name).toEqual([0, 1, 0, 9]);
        expect([numbers[0], numbers[2], numbers[3]], f.name).toEqual([whole[0], whole[2], 4]);
        expect(numbers[1], f.name).toBeNaN();
      } else {
        expect(() => view.readNumbers(fi, records, new Float64Array(4), new Uint8Array(4)), f.name).toThrow(/not stored as numbers/);
      }
    });
    const lazy = new BundleRow(view, recordOf(1), view.eventTsMs(recordOf(1)), view.createdTsMs(recordOf(1)));
    expect(lazy.record).toBe(recordOf(1));
    expect(lazy.eventTsMs).toBe(T0);
    expect(lazy.values).toEqual(view.row(recordOf(1)).values);
    expect(lazy.values).toBe(lazy.values); // decoded once
  });

  it('stores a string column whose values repeat as a dictionary, others in the heap', async () => {
    const { layout } = await split(await everyDtypeBundleBytes());
    const kind = (name: string) => layout.views[0].fields.find((f: { name: string }) => f.name === name);
    expect(kind('segment')).toMatchObject({ kind: 'dict', dictionary: ['gold ✓'] });
    expect(kind('country').kind).toBe('str'); // two values, each once
  });

  it('keeps float32[] elements that are null by falling back to msgpack', async () => {
    const view: FeatureViewDef = { ...everyDtype, features: [{ name: 'v', dtype: 'float32[]' }] };
    const b = await Bundle.decode(await bundleBytes(repoWith([view]), [
      { name: 'user_stats', joinKeys: [{ name: 'user_id', dtype: 'int64' }], keys: ['1'], eventTsMs: [T0], columns: { v: [[1, null, 3]] } },
    ]));
    expect(b.get('user_stats', 1)).toEqual({ v: [1, null, 3] });
  });

  it('records per-feature stats in the manifest', async () => {
    const b = await everyDtypeBundle();
    const view = b.manifest.views[0]!;
    expect(view.keyCount).toBe(3);
    expect(view.features.clicks).toMatchObject({ count: 3, nullCount: 1, min: -7, max: 5, mean: -1 });
    expect(view.features.clicks!.histogram!.counts.reduce((a, c) => a + c, 0)).toBe(2);
    expect(view.features.country!.topValues).toEqual([{ value: 'DE', count: 1 }, { value: 'Zürich ✓', count: 1 }]);
    expect(view.features.embedding!.length).toEqual({ min: 0, max: 3, mean: 1.5 });
  });

  it('finds composite keys by their parts', async () => {
    const view: FeatureViewDef = { name: 'user_product', entities: ['user', 'product'], source: 'src', ttlSeconds: 0, features: [{ name: 'affinity', dtype: 'float64' }] };
    const keys = [entityKeyString([1, 'p1']), entityKeyString([1, 'p2']), entityKeyString([2, 'p1'])];
    const b = await Bundle.decode(await bundleBytes(repoWith([view]), [{
      name: 'user_product',
      joinKeys: [{ name: 'user_id', dtype: 'int64' }, { name: 'product_id', dtype: 'string' }],
      keys, eventTsMs: [T0, T0, T0], columns: { affinity: [0.1, 0.2, 0.3] },
    }]));
    expect(b.get('user_product', [1, 'p2'])).toEqual({ affinity: 0.2 });
    expect(b.get('user_product', [2, 'p1'])).toEqual({ affinity: 0.3 });
    expect(b.get('user_product', [2, 'p2'])).toBeUndefined();
    expect(b.get('user_product', '1p2')).toBeUndefined();
  });

  it('holds many keys, including colliding hash slots', async () => {
    const view: FeatureViewDef = { ...everyDtype, features: [{ name: 'n', dtype: 'int64' }] };
    const n = 20_000;
    const keys = Array.from({ length: n }, (_, i) => `u${i}`);
    const b = await Bundle.decode(await bundleBytes(repoWith([view]), [{
      name: 'user_stats', joinKeys: [{ name: 'user_id', dtype: 'string' }], keys,
      eventTsMs: new Float64Array(n).fill(T0), columns: { n: keys.map((_, i) => i) },
    }]));
    for (let i = 0; i < n; i += 97) expect(b.get('user_stats', `u${i}`)).toEqual({ n: i });
    expect(b.get('user_stats', `u${n}`)).toBeUndefined();
  });

  it('finds keys of every length around the 8 bytes kept inline in the record, and nothing near them', async () => {
    const view: FeatureViewDef = { ...everyDtype, features: [{ name: 'n', dtype: 'int64' }] };
    // ASCII and multi-byte keys of 1 to 12 UTF-8 bytes, some sharing their first 8 bytes.
    const keys = ['a', '1234567', '12345678', '123456789', 'é', 'ééé', 'éééé', 'ééééé', 'abcdefgh', 'abcdefghij', '✓✓', '✓✓✓', ''];
    const b = await Bundle.decode(await bundleBytes(repoWith([view]), [{
      name: 'user_stats', joinKeys: [{ name: 'user_id', dtype: 'string' }], keys,
      eventTsMs: keys.map(() => T0), columns: { n: keys.map((_, i) => i) },
    }]));
    keys.forEach((k, i) => expect(b.get('user_stats', k), JSON.stringify(k)).toEqual({ n: i }));
    for (const near of ['123456', '1234567890', 'abcdefghi', 'abcdefg', 'éé', 'éééééé', '✓', 'A', 'abcdefgh\u0000']) {
      expect(b.get('user_stats', near), JSON.stringify(near)).toBeUndefined();
    }
  });

  it('builds objects for feature names that are not plain identifiers too', async () => {
    const view: FeatureViewDef = { ...everyDtype, features: [{ name: 'n', dtype: 'int64' }, { name: 'two-words', dtype: 'string' }, { name: '__proto__', dtype: 'int64' }] };
    const b = await Bundle.decode(await bundleBytes(repoWith([view]), [{
      name: 'user_stats', joinKeys: [{ name: 'user_id', dtype: 'int64' }], keys: ['1'],
      eventTsMs: [T0], columns: { n: [1], 'two-words': ['x'], ['__proto__']: [3] },
    }]));
    const row = b.get('user_stats', 1)!;
    expect(Object.keys(row)).toEqual(['n', 'two-words', '__proto__']);
    expect(Object.getOwnPropertyDescriptor(row, '__proto__')?.value).toBe(3);
    expect(Object.getPrototypeOf(row)).toBe(Object.prototype);
  });

  it('encodes a view with no keys', async () => {
    const b = await Bundle.decode(await bundleBytes(repoWith([everyDtype]), [{
      name: 'user_stats', joinKeys: [{ name: 'user_id', dtype: 'int64' }], keys: [], eventTsMs: [],
      columns: Object.fromEntries(everyDtype.features.map((f) => [f.name, []])),
    }]));
    expect(b.view('user_stats')!.keyCount).toBe(0);
    expect(b.get('user_stats', 1)).toBeUndefined();
  });

  it('refuses int64 values beyond 2^53, naming view and feature', async () => {
    const view: FeatureViewDef = { ...everyDtype, features: [{ name: 'big', dtype: 'int64' }] };
    const p = bundleBytes(repoWith([view]), [{ name: 'user_stats', joinKeys: [{ name: 'user_id', dtype: 'int64' }], keys: ['1'], eventTsMs: [T0], columns: { big: [2n ** 60n] } }]);
    await expect(p).rejects.toThrow(/feature view "user_stats", feature "big" \(int64\).*safe integer/);
    await expect(p).rejects.toMatchObject({ code: 'LARDER_ERR_VALUE' });
  });

  it('refuses snapshots that do not fit the repo with LARDER_ERR_ARGUMENT', async () => {
    const joinKeys = [{ name: 'user_id', dtype: 'int64' as const }];
    const view: FeatureViewDef = { ...everyDtype, features: [{ name: 'n', dtype: 'int64' }] };
    const cases: [Parameters<typeof bundleBytes>[1], RegExp][] = [
      [[{ name: 'ghost', joinKeys, keys: [], eventTsMs: [], columns: {} }], /view "ghost" is not defined in the repo/],
      [[{ name: 'user_stats', joinKeys, keys: ['1'], eventTsMs: [], columns: { n: [1] } }], /eventTsMs has 0 rows, keys 1/],
      [[{ name: 'user_stats', joinKeys, keys: ['1'], eventTsMs: [T0], columns: {} }], /feature "n": expected 1 values, got none/],
    ];
    for (const [views, message] of cases) {
      const p = bundleBytes(repoWith([view]), views);
      await expect(p).rejects.toThrow(message);
      await expect(p).rejects.toMatchObject({ code: 'LARDER_ERR_ARGUMENT' });
    }
  });
});

/** Rejected by the runtime-agnostic decoder (WebCrypto) and by Node's openBundle (node:crypto) alike. */
async function expectRejected(bytes: Uint8Array, code: string): Promise<void> {
  for (const open of [(b: Uint8Array) => Bundle.decode(b), openBundle]) {
    const err = await open(bytes).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(LarderError);
    expect((err as LarderError).code).toBe(code);
  }
}

describe('decoding rejects anything but an intact bundle', () => {
  it('rejects foreign files and empty input', async () => {
    await expectRejected(new Uint8Array(0), 'LARDER_ERR_BUNDLE_MAGIC');
    await expectRejected(new TextEncoder().encode('PAR1 this is not a bundle at all, just bytes.................'), 'LARDER_ERR_BUNDLE_MAGIC');
    await expectRejected(new TextEncoder().encode('{"json": true}'), 'LARDER_ERR_BUNDLE_MAGIC');
  });

  it('rejects an unknown format version', async () => {
    const bytes = (await everyDtypeBundleBytes()).slice();
    new DataView(bytes.buffer).setUint16(8, 99, true);
    await expectRejected(bytes, 'LARDER_ERR_BUNDLE_VERSION');
  });

  it('rejects every truncation', async () => {
    const bytes = await everyDtypeBundleBytes();
    const cuts = [HEADER_BYTES - 1, HEADER_BYTES, HEADER_BYTES + 10, Math.floor(bytes.length / 2), bytes.length - 1];
    for (const cut of cuts) {
      const err = await Bundle.decode(bytes.slice(0, cut)).then(() => undefined, (e: unknown) => e);
      expect(err, `cut at ${cut}`).toBeInstanceOf(LarderError);
    }
  });

  it('rejects a flipped bit anywhere', async () => {
    const bytes = await everyDtypeBundleBytes();
    for (let at = 8; at < bytes.length; at += Math.max(1, Math.floor(bytes.length / 97))) {
      const bad = bytes.slice();
      bad[at]! ^= 0x10;
      for (const open of [(b: Uint8Array) => Bundle.decode(b), openBundle]) {
        const err = await open(bad).then(() => undefined, (e: unknown) => e);
        expect(err, `flip at ${at}`).toBeInstanceOf(LarderError);
      }
    }
  });

  it('rejects well-checksummed files whose layout or records lie', async () => {
    // Checksums only prove the bytes are what the writer wrote; a hostile or
    // buggy writer must still not make a reader index outside the data.
    const lies: ((p: Parts) => void)[] = [
      (p) => { p.layout.views[0].fields[0].offset = 4096; },
      (p) => { p.layout.views[0].records.offset = p.data.length + 8; },
      (p) => { p.layout.views[0].rows = 1000; },
      (p) => { p.layout.views[0].nullsOffset = p.layout.views[0].stride; },
      (p) => { p.layout.views[0].fields[0].kind = 'utf16'; },
      (p) => { p.layout.views.pop(); },
      (p) => { // a slot pointing past the rows
        const s = new Int32Array(p.data.buffer, p.data.byteOffset + p.layout.views[0].slots.offset, 2);
        s[0] = 77; s[1] = 78;
      },
      (p) => { // a dictionary index past the dictionary
        const v = p.layout.views[0];
        const segment = v.fields.find((f: { name: string }) => f.name === 'segment');
        new DataView(p.data.buffer, p.data.byteOffset).setUint32(v.records.offset + segment.offset, 1, true);
      },
      (p) => { p.layout.views[0].fields.find((f: { name: string }) => f.name === 'segment').dictionary = []; },
      (p) => { p.layout.views[0].fields.find((f: { name: string }) => f.name === 'segment').dictionary = [7]; },
      (p) => { // the first string value pointing past the heap
        const v = p.layout.views[0];
        const country = v.fields.find((f: { name: string }) => f.name === 'country');
        new DataView(p.data.buffer, p.data.byteOffset).setUint32(v.records.offset + country.offset, 1 << 30, true);
      },
    ];
    for (const [i, lie] of lies.entries()) {
      const parts = await split(await everyDtypeBundleBytes());
      lie(parts);
      const err = await Bundle.decode(await reseal(parts)).then(() => undefined, (e: unknown) => e);
      expect(err, `lie ${i}`).toBeInstanceOf(LarderError);
      expect((err as LarderError).code, `lie ${i}`).toBe('LARDER_ERR_BUNDLE_CORRUPT');
    }
    // The unchanged parts, resealed, still open: the lies above are what failed.
    const ok = await Bundle.decode(await reseal(await split(await everyDtypeBundleBytes())));
    expect(ok.get('user_stats', 1)!.clicks).toBe(5);
  });

  it('reads the manifest alone without the values', async () => {
    const bytes = await everyDtypeBundleBytes();
    const m = await decodeManifest(bytes);
    expect(m.project).toBe('shop');
    expect(m.contentSha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('decodes from an unaligned buffer', async () => {
    const bytes = await everyDtypeBundleBytes();
    const shifted = new Uint8Array(bytes.length + 3);
    shifted.set(bytes, 3);
    const b = await Bundle.decode(shifted.subarray(3));
    expect(b.get('user_stats', 1)!.clicks).toBe(5);
  });
});

async function everyDtypeBundleBytes(): Promise<Uint8Array> {
  const repo = repoWith([everyDtype]);
  const columns: Record<string, unknown[]> = {};
  for (const f of everyDtype.features) columns[f.name] = rows.map((r) => r[f.name as keyof typeof r]);
  return bundleBytes(repo, [{ name: 'user_stats', joinKeys: [{ name: 'user_id', dtype: 'int64' }], keys: rows.map((r) => String(r.key)), eventTsMs: rows.map(() => T0), columns }]);
}

/* eslint-disable @typescript-eslint/no-explicit-any */
interface Parts { manifest: any; layout: any; data: Uint8Array }

/** Splits a bundle file into its manifest, layout and data (independently of decode.ts). */
async function split(bytes: Uint8Array): Promise<Parts> {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const m = dv.getUint32(12, true);
  const l = dv.getUint32(HEADER_BYTES + m, true);
  const layoutEnd = HEADER_BYTES + m + 4 + l;
  return {
    manifest: unpackPlain(bytes.subarray(HEADER_BYTES, HEADER_BYTES + m)),
    layout: unpackPlain(bytes.subarray(HEADER_BYTES + m + 4, layoutEnd)),
    data: bytes.slice(Math.ceil(layoutEnd / 8) * 8),
  };
}

/** Writes parts back as a file with correct checksums. */
async function reseal(p: Parts): Promise<Uint8Array> {
  const layout = packPlain(p.layout);
  const manifestLength = packPlain(p.manifest).length;
  const pad = (8 - ((HEADER_BYTES + manifestLength + 4 + layout.length) % 8)) % 8;
  const content = new Uint8Array(4 + layout.length + pad + p.data.length);
  new DataView(content.buffer).setUint32(0, layout.length, true);
  content.set(layout, 4);
  content.set(p.data, 4 + layout.length + pad);
  p.manifest.contentSha256 = await sha256Hex(content);
  const manifest = packPlain(p.manifest);
  const out = new Uint8Array(HEADER_BYTES + manifest.length + content.length);
  out.set(MAGIC);
  new DataView(out.buffer).setUint16(8, FORMAT_VERSION, true);
  new DataView(out.buffer).setUint32(12, manifest.length, true);
  const sha = await sha256Hex(manifest);
  for (let i = 0; i < 32; i++) out[16 + i] = parseInt(sha.slice(i * 2, i * 2 + 2), 16);
  out.set(manifest, HEADER_BYTES);
  out.set(content, HEADER_BYTES + manifest.length);
  return out;
}
