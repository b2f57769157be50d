/**
 * A few thousand cases of the bundle fuzzer (fuzz/, `npm run fuzz` runs
 * 100,000): mutated real bundles are rejected with a LarderError or
 * accepted, and an accepted bundle answers every lookup of every key; no
 * other error, no case over a second.
 */
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { emptyTally, prepareSeeds, runCases } from '../../fuzz/engine.js';
import { builderSeed, encoderSeeds } from '../../fuzz/seeds.js';

const CASES = 3000;

describe('bundle fuzzer', () => {
  it(`${CASES} mutated bundles: typed rejections or lookups that never throw`, async () => {
    const seeds = await prepareSeeds([...(await encoderSeeds()), await builderSeed(resolve(import.meta.dirname, '../..'))]);
    const tally = emptyTally();
    // A run seed of its own, so that these cases differ from `npm run fuzz`'s first ones.
    await runCases(seeds, 7, 0, CASES, tally);
    expect(tally.cases).toBe(CASES);
    expect(tally.examples).toEqual({ otherErrors: [], hangs: [], acceptedThenThrew: [] });
    expect([tally.otherErrors, tally.hangs, tally.acceptedThenThrew]).toEqual([0, 0, 0]);
    // Every strategy has cases that open and cases that are refused past the checksums.
    for (const s of ['checksummed', 'structural'] as const) {
      expect(tally.byStrategy[s].accepted, s).toBeGreaterThan(0);
      expect(tally.byStrategy[s].rejected, s).toBeGreaterThan(0);
    }
    expect(tally.rejected.LARDER_ERR_BUNDLE_CORRUPT).toBeGreaterThan(CASES / 10);
    expect(tally.keysAnswered).toBeGreaterThan(0);
  }, 180_000);
});
