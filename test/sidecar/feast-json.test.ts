/** The fast Feast response serializer must produce exactly JSON.stringify's text. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { OnlineFeaturesResponse } from '../../src/core/feast.js';
import { feastResponseJson } from '../../src/sidecar/feast-json.js';

const anyValue = fc.oneof(
  fc.double(), // includes NaN, ±Infinity and -0
  fc.integer(),
  fc.string({ unit: 'binary' }), // lone surrogates, quotes, control characters
  fc.boolean(),
  fc.constant(null),
  fc.constant(undefined),
  fc.array(fc.double({ noNaN: true }), { maxLength: 4 }),
  fc.array(fc.string(), { maxLength: 4 }),
  fc.array(fc.oneof(fc.integer(), fc.constant(null)), { maxLength: 4 }),
  fc.jsonValue({ maxDepth: 2 }),
);
const status = fc.constantFrom('PRESENT', 'NULL_VALUE', 'NOT_FOUND', 'OUTSIDE_MAX_AGE');
const stamp = fc.oneof(
  fc.constant('1970-01-01T00:00:00Z'),
  fc.integer({ min: 0, max: 4_102_444_800_000 }).map((ms) => new Date(ms).toISOString()),
  fc.string({ unit: 'binary' }), // never produced by core, still encoded correctly
);

const response: fc.Arbitrary<OnlineFeaturesResponse> = fc.integer({ min: 0, max: 5 }).chain((n) =>
  fc.record({
    metadata: fc.record({ feature_names: fc.array(fc.string({ unit: 'binary' }), { maxLength: 6 }) }),
    results: fc.array(
      fc.record({
        values: fc.array(anyValue, { minLength: n, maxLength: n }),
        statuses: fc.array(status, { minLength: n, maxLength: n }) as fc.Arbitrary<OnlineFeaturesResponse['results'][number]['statuses']>,
        event_timestamps: fc.array(stamp, { minLength: n, maxLength: n }),
      }),
      { maxLength: 6 },
    ),
  }),
);

describe('feastResponseJson', () => {
  it('equals JSON.stringify on random responses', () => {
    fc.assert(
      fc.property(response, (r) => {
        expect(feastResponseJson(r)).toBe(JSON.stringify(r));
      }),
      { numRuns: 2000 },
    );
  });

  it('equals JSON.stringify on holes and repeated stamps', () => {
    const values = new Array<unknown>(3);
    values[1] = 1.5;
    const r = {
      metadata: { feature_names: ['a', 'b"c'] },
      results: [
        { values: [1, 2, 3], statuses: ['PRESENT', 'PRESENT', 'PRESENT'], event_timestamps: ['1970-01-01T00:00:00Z', '1970-01-01T00:00:00Z', '1970-01-01T00:00:00Z'] },
        { values, statuses: ['NOT_FOUND', 'PRESENT', 'NOT_FOUND'], event_timestamps: ['1970-01-01T00:00:00Z', '2026-01-01T00:00:00.123Z', '1970-01-01T00:00:00Z'] },
      ],
    } as OnlineFeaturesResponse;
    expect(feastResponseJson(r)).toBe(JSON.stringify(r));
  });
});
