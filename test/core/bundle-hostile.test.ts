/**
 * Bundles whose checksums are valid but whose contents are not what the
 * format allows (forged with fuzz/forge.ts, as a hostile or buggy writer
 * would make them): the decoder rejects each with a LarderError naming the
 * view and row, or the manifest or layout field; a bundle that decodes
 * answers every lookup.
 */
import { describe, expect, it } from 'vitest';
import { type BundleParts, joinBundle, recordsOf, splitBundle } from '../../fuzz/forge.js';
import { Bundle } from '../../src/core/local-store.js';
import { LarderError } from '../../src/core/errors.js';
import { MAX_TIME_MS, MIN_TIME_MS } from '../../src/core/time.js';
import type { FeatureViewDef } from '../../src/core/repo/types.js';
import { bundleBytes, repoWith } from './helpers.js';

const T0 = Date.parse('2026-01-01T00:00:00Z');

const view: FeatureViewDef = {
  name: 'user_stats', entities: ['user'], source: 'src', ttlSeconds: 0,
  features: [
    { name: 'clicks', dtype: 'int64' },
    { name: 'last_seen', dtype: 'timestamp' },
    { name: 'vip', dtype: 'bool' },
    { name: 'tags', dtype: 'string[]' },
  ],
};
const repo = repoWith([view], { featureServices: [{ name: 'svc', features: ['user_stats:*'] }] });

function good(eventTsMs = [T0, T0 - 1000], lastSeen: (number | null)[] = [T0 - 60_000, null]): Promise<Uint8Array> {
  return bundleBytes(repo, [{
    name: 'user_stats', joinKeys: [{ name: 'user_id', dtype: 'int64' }], keys: ['1', '2'], eventTsMs, createdTsMs: [T0, null],
    columns: { clicks: [5, 6], last_seen: lastSeen, vip: [true, false], tags: [['a'], null] },
  }]);
}

/** A forged copy of a good bundle: `change` edits its parts, the checksums are made valid again. */
async function forged(change: (parts: BundleParts) => void): Promise<Uint8Array> {
  const parts = await splitBundle(await good());
  change(parts);
  return joinBundle(parts);
}

async function rejection(bytes: Uint8Array): Promise<LarderError> {
  const e = await Bundle.decode(bytes).then(() => undefined, (err: unknown) => err);
  expect(e).toBeInstanceOf(LarderError);
  return e as LarderError;
}

const fieldOffset = (parts: BundleParts, name: string) => recordsOf(parts).view.fields.find((f) => f.name === name)!.offset;

describe('stored times outside what larder stores are rejected, naming view and row', () => {
  const BAD = [NaN, Infinity, -Infinity, 1e300, -1e300, 1.5, MIN_TIME_MS - 1, MAX_TIME_MS + 1, -8.64e15];
  for (const t of BAD) {
    it(`event time ${t}`, async () => {
      const e = await rejection(await forged((p) => {
        const r = recordsOf(p);
        r.f64[r.stride / 8] = t; // row 1's event time
      }));
      expect(e.code).toBe('LARDER_ERR_BUNDLE_CORRUPT');
      expect(e.message).toContain(`view "user_stats", row 1 (key "2"): event time ${t} is not a time larder stores`);
    });
  }

  it('a created time of Infinity (NaN means none and is fine)', async () => {
    const e = await rejection(await forged((p) => void (recordsOf(p).f64[3] = Infinity)));
    expect(e.message).toContain('view "user_stats", row 0 (key "1"): created time Infinity is not a time larder stores');
    const b = await Bundle.decode(await forged((p) => void (recordsOf(p).f64[3] = NaN)));
    expect(b.view('user_stats')!.createdTsMs(0)).toBeNull();
  });

  it('a timestamp feature value out of range', async () => {
    const e = await rejection(await forged((p) => {
      const r = recordsOf(p);
      r.f64[fieldOffset(p, 'last_seen') / 8] = -1e300;
    }));
    expect(e.message).toContain('view "user_stats", row 0 (key "1"): feature "last_seen" (timestamp): -1e+300 is not a time larder stores');
  });

  it('the ends of the range are stored, and read back as Feast writes them', async () => {
    const b = await Bundle.decode(await good([MIN_TIME_MS, MAX_TIME_MS], [MAX_TIME_MS, MIN_TIME_MS]));
    expect(b.get('user_stats', 1)!.last_seen).toBe('9999-12-31T23:59:59.999Z');
    const answer = b.getOnlineFeatures({ features: ['user_stats:last_seen'], entities: { user_id: [1, 2] } }, { now: new Date(MAX_TIME_MS) });
    expect(answer.results[1]!.statuses).toEqual(['PRESENT', 'PRESENT']);
    expect(answer.results[1]!.event_timestamps).toEqual(['0001-01-01T00:00:00Z', '9999-12-31T23:59:59.999Z']);
    expect(answer.results[1]!.values).toEqual(['9999-12-31T23:59:59.999Z', '0001-01-01T00:00:00Z']);
  });

  it('the encoder refuses such times, naming view and key (so the builder never writes what the decoder rejects)', async () => {
    await expect(good([T0, NaN])).rejects.toThrow(/feature view "user_stats", key "2": event time NaN is not a time larder stores/);
    await expect(good([T0, T0], [Infinity, null])).rejects.toThrow(/feature view "user_stats", feature "last_seen" \(timestamp\): row 0: Infinity is not a time larder stores/);
    await expect(good([T0, 8.64e15 + 1])).rejects.toThrow(LarderError);
  });
});

describe('other stored values a lookup could not answer', () => {
  it('an int64 that is not an integer, a bool byte of 2, a list that is not one', async () => {
    const int = await rejection(await forged((p) => void (recordsOf(p).f64[fieldOffset(p, 'clicks') / 8] = 0.5)));
    expect(int.message).toContain('row 0 (key "1"): feature "clicks" (int64): 0.5 is not an integer');
    const bool = await rejection(await forged((p) => void (recordsOf(p).u8[fieldOffset(p, 'vip')] = 2)));
    expect(bool.message).toContain('feature "vip" (bool): byte 2 is not a bool');
    const list = await rejection(await forged((p) => {
      const r = recordsOf(p);
      r.u32[fieldOffset(p, 'tags') / 4 + 1] = 0; // an empty msgpack value
    }));
    expect(list.message).toMatch(/feature "tags" \(string\[\]\): its value is not valid msgpack/);
  });

  it('a feature stored as another kind than its dtype is', async () => {
    const e = await rejection(await forged((p) => {
      const field = recordsOf(p).view.fields.find((f) => f.name === 'last_seen')!;
      field.kind = 'f32';
    }));
    expect(e.message).toContain('feature "last_seen" (timestamp) is stored as f32');
  });
});

describe('a manifest or layout of the wrong shape is rejected naming the field', () => {
  const cases: [string, (p: BundleParts) => void, string][] = [
    ['a feature service\'s features = null', (p) => ((p.manifest.repo as { featureServices: { features: unknown }[] }).featureServices[0]!.features = null), 'manifest.repo.featureServices[0].features must be an array, got null'],
    ['a feature\'s features list holding a number', (p) => ((p.manifest.repo as { featureServices: { features: unknown[] }[] }).featureServices[0]!.features[0] = 7), 'manifest.repo.featureServices[0].features[0] must be a string, got the number 7'],
    ['a view\'s features = a string', (p) => ((p.manifest.repo as { featureViews: { features: unknown }[] }).featureViews[0]!.features = 'x'), 'manifest.repo.featureViews[0].features must be an array, got the string "x"'],
    ['an unknown dtype', (p) => ((p.manifest.repo as { featureViews: { features: { dtype: unknown }[] }[] }).featureViews[0]!.features[0]!.dtype = 'float16'), 'manifest.repo.featureViews[0].features[0].dtype must be one of'],
    ['no views list', (p) => delete p.manifest.views, 'manifest.views must be an array, got nothing'],
    ['a bigint version', (p) => (p.manifest.version = 2n), 'manifest.version must be an integer >= 0, got the bigint 2'],
    ['a Date for createdAt', (p) => (p.manifest.createdAt = new Date(0)), 'manifest.createdAt must be an ISO-8601 UTC time, got a Date'],
    ['a join key dtype', (p) => ((p.manifest.views as { joinKeys: { dtype: unknown }[] }[])[0]!.joinKeys[0]!.dtype = 'float64'), 'manifest.views[0].joinKeys[0].dtype must be one of "int64", "string"'],
    ['a layout view\'s rows as text', (p) => ((p.layout.views as { rows: unknown }[])[0]!.rows = '2'), 'layout.views[0].rows must be an integer >= 0, got the string "2"'],
    ['a layout field of an unknown kind', (p) => ((p.layout.views as { fields: { kind: unknown }[] }[])[0]!.fields[0]!.kind = 'f16'), 'layout.views[0].fields[0].kind must be one of'],
    ['a layout block = null', (p) => ((p.layout.views as { heap: unknown }[])[0]!.heap = null), 'layout.views[0].heap must be an object, got null'],
    ['a layout of another view', (p) => ((p.layout.views as { name: string }[])[0]!.name = 'other'), 'layout.views[0].name is "other", but manifest.views[0] is "user_stats"'],
    ['a default of another dtype', (p) => ((p.manifest.repo as { featureViews: { features: { default?: unknown }[] }[] }).featureViews[0]!.features[0]!.default = 'many'), 'manifest.repo.featureViews[0].features[0].default "many" is not a valid int64'],
    ['a view listed twice', (p) => (p.manifest.views as unknown[]).push((p.manifest.views as unknown[])[0]), 'manifest.views[1].name: view "user_stats" is listed twice'],
  ];
  for (const [name, change, message] of cases) {
    it(name, async () => {
      const e = await rejection(await forged(change));
      expect(e.code).toBe('LARDER_ERR_BUNDLE_CORRUPT');
      expect(e.message).toContain(message);
    });
  }
});

it('an untouched forged bundle decodes and answers (the forging itself is faithful)', async () => {
  const b = await Bundle.decode(await forged(() => undefined));
  expect(b.get('user_stats', 1)).toEqual({ clicks: 5, last_seen: '2025-12-31T23:59:00Z', vip: true, tags: ['a'] });
});
