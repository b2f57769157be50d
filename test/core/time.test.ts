/** formatTimestamp: protobuf's Timestamp JSON (Feast's), checked against toISOString. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatTimestamp } from '../../src/core/time.js';

/** The rule, written the slow way: ISO 8601 in UTC, no fraction for whole seconds. */
const expected = (ms: number) => {
  const iso = new Date(ms).toISOString();
  return ms % 1000 === 0 ? iso.slice(0, 19) + 'Z' : iso;
};

describe('formatTimestamp', () => {
  it('matches toISOString for any millisecond of the years 0000 to 9999 and beyond', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.integer({ min: -62_167_219_200_000, max: 253_402_300_799_999 }),
          fc.integer({ min: 1_500_000_000, max: 2_000_000_000 }).map((s) => s * 1000), // whole seconds
          fc.integer({ min: -8.64e15, max: 8.64e15 }), // extended years
        ),
        (ms) => {
          expect(formatTimestamp(ms)).toBe(expected(ms));
        },
      ),
      { numRuns: 20_000 },
    );
  });

  it('edges: the epoch, leap days, the ends of four-digit years, small fractions', () => {
    for (const iso of ['1970-01-01T00:00:00.000Z', '2024-02-29T23:59:59.999Z', '2000-03-01T00:00:00.001Z', '1900-02-28T12:00:00.010Z', '0000-01-01T00:00:00.000Z', '9999-12-31T23:59:59.999Z', '1969-12-31T23:59:59.900Z']) {
      const ms = Date.parse(iso);
      expect(formatTimestamp(ms)).toBe(expected(ms));
    }
    expect(formatTimestamp(0)).toBe('1970-01-01T00:00:00Z');
    expect(formatTimestamp(1.5)).toBe(expected(1.5));
  });
});
