/**
 * Deltas: applying diff(old, new) to old gives exactly new (property test
 * over random files and random edits of them), a delta for a 1% change of a
 * real bundle is a small fraction of the bundle, and a delta applied to the
 * wrong base, damaged or truncated, is refused.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { applyDelta, diffBundles } from '../../src/core/bundle/delta.js';
import { encodeBundle } from '../../src/core/bundle/encode.js';
import { Bundle } from '../../src/core/local-store.js';
import { defineRepo } from '../../src/core/repo/define.js';

const edits = fc.array(fc.record({ at: fc.nat(), cut: fc.nat({ max: 40 }), insert: fc.uint8Array({ maxLength: 40 }) }), { maxLength: 8 });

function edit(base: Uint8Array, changes: { at: number; cut: number; insert: Uint8Array }[]): Uint8Array {
  let out = base;
  for (const c of changes) {
    const at = out.length === 0 ? 0 : c.at % (out.length + 1);
    out = new Uint8Array([...out.subarray(0, at), ...c.insert, ...out.subarray(Math.min(out.length, at + c.cut))]);
  }
  return out;
}

describe('bundle deltas', () => {
  it('apply(old, diff(old, new)) is new, byte for byte (random files and random edits)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 3000 }), edits, fc.uint8Array({ maxLength: 500 }), fc.constantFrom(4, 16, 64), async (base, changes, other, block) => {
        for (const target of [edit(base, changes), other]) {
          const delta = await diffBundles(base, target, { blockBytes: block });
          expect(await applyDelta(base, delta)).toEqual(target);
        }
      }),
      { numRuns: 150 },
    );
  });

  const repo = defineRepo({
    project: 'delta', entities: [{ name: 'user', joinKeys: ['user_id'] }], sources: [{ name: 's', path: 'x.parquet', timestampField: 'ts' }],
    featureViews: [{ name: 'stats', entities: ['user'], source: 's', ttlSeconds: 0, features: [{ name: 'clicks', dtype: 'int64' }, { name: 'score', dtype: 'float64' }, { name: 'country', dtype: 'string' }] }],
  });
  const ROWS = 10_000;
  const bundleOf = (version: number, changed: ReadonlySet<number>) =>
    encodeBundle({
      project: 'delta', version, parentVersion: version - 1 || null, createdAt: new Date(Date.UTC(2026, 0, version)), asOf: new Date(Date.UTC(2026, 0, version)), repo,
      views: [{
        name: 'stats', joinKeys: [{ name: 'user_id', dtype: 'int64' }],
        keys: Array.from({ length: ROWS }, (_, i) => String(i)),
        eventTsMs: Array.from({ length: ROWS }, (_, i) => Date.UTC(2025, 11, 1) + (changed.has(i) ? 86_400_000 : 0)),
        columns: {
          clicks: Array.from({ length: ROWS }, (_, i) => i + (changed.has(i) ? 1000 : 0)),
          score: Array.from({ length: ROWS }, (_, i) => (changed.has(i) ? i / 3 : i / 7)),
          country: Array.from({ length: ROWS }, (_, i) => ['NL', 'DE', 'FR'][i % 3]!),
        },
      }],
    });

  it('a 1% change of a real bundle: the delta rebuilds the new bundle exactly and is a small part of it', async () => {
    const changed = new Set(Array.from({ length: ROWS / 100 }, (_, i) => (i * 7919) % ROWS));
    const v1 = await bundleOf(1, new Set());
    const v2 = await bundleOf(2, changed);
    const delta = await diffBundles(v1, v2);
    const rebuilt = await applyDelta(v1, delta);
    expect(rebuilt).toEqual(v2);
    const bundle = await Bundle.decode(rebuilt);
    expect(bundle.get('stats', 7919)).toEqual({ clicks: 7919 + 1000, score: 7919 / 3, country: ['NL', 'DE', 'FR'][7919 % 3] });
    console.log(`delta for a 1% change: ${delta.length} bytes against ${v2.length} bytes full (${((100 * delta.length) / v2.length).toFixed(1)}%)`);
    expect(delta.length).toBeLessThan(v2.length * 0.2);
  });

  it('refuses a delta for another base, a damaged or truncated one', async () => {
    const v1 = await bundleOf(1, new Set());
    const v2 = await bundleOf(2, new Set([1, 2, 3]));
    const delta = await diffBundles(v1, v2);
    await expect(applyDelta(v2, delta)).rejects.toMatchObject({ code: 'LARDER_ERR_BUNDLE_CORRUPT', message: expect.stringContaining('another base') });
    // Every flipped byte from the target length on is refused (a bad op, or bytes that do not hash right).
    for (let at = 80; at < delta.length; at += Math.max(1, Math.floor(delta.length / 200))) {
      const damaged = delta.slice();
      damaged[at]! ^= 1;
      await expect(applyDelta(v1, damaged), `byte ${at}`).rejects.toMatchObject({ code: expect.stringMatching(/^LARDER_ERR_BUNDLE_(CHECKSUM|CORRUPT)$/) });
    }
    await expect(applyDelta(v1, delta.subarray(0, delta.length - 5))).rejects.toMatchObject({ code: 'LARDER_ERR_BUNDLE_CORRUPT' });
    await expect(applyDelta(v1, new Uint8Array(10))).rejects.toMatchObject({ code: 'LARDER_ERR_BUNDLE_CORRUPT' });
  });
});
