/** JsonWriter's numbers: JSON.stringify's text for doubles, the shortest round-trip text for float32. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { JsonWriter, shortestFloat32 } from '../../src/core/feast/json-writer.js';
import { formatTimestamp } from '../../src/core/time.js';

const writer = new JsonWriter();
function written(write: (w: JsonWriter) => void): string {
  writer.reset();
  write(writer);
  return new TextDecoder().decode(writer.view());
}

/** Doubles as data holds them: counts, prices, rates, and any double at all. */
const dataDouble = fc.oneof(
  fc.double(),
  fc.integer({ min: -2_000_000_000, max: 2_000_000_000 }).chain((n) => fc.integer({ min: 0, max: 12 }).map((d) => n / 10 ** d)),
  fc.integer({ min: 0, max: 2 ** 53 }).map((n) => n * (Math.random() < 0.5 ? 1 : -1)),
  fc.constantFrom(1e-6, 9.99e-7, 2 ** 50, 2 ** 50 - 0.5, 2 ** 53, 1e21, 5e-324, Number.MAX_VALUE, 0.1 + 0.2),
);

describe('JsonWriter numbers', () => {
  it('number() writes what JSON.stringify writes', () => {
    fc.assert(
      fc.property(dataDouble, (v) => {
        expect(written((w) => w.number(v))).toBe(JSON.stringify(v));
      }),
      { numRuns: 20_000 },
    );
  });

  it('integer() writes what JSON.stringify writes, integers or not', () => {
    const epochMs = fc.integer({ min: 0, max: 4_102_444_800_000 });
    fc.assert(
      fc.property(fc.oneof(dataDouble, epochMs, fc.constantFrom(0, -0, 2 ** 50 - 1, -(2 ** 50 - 1), 2 ** 50, 2 ** 53 + 2)), (v) => {
        expect(written((w) => w.integer(v))).toBe(JSON.stringify(v));
      }),
      { numRuns: 20_000 },
    );
  });

  it('float32() writes the shortest text that reads back as the same float32', () => {
    fc.assert(
      fc.property(fc.oneof(fc.float(), dataDouble), (v) => {
        const f = Math.fround(v);
        const out = written((w) => w.float32(v));
        if (!Number.isFinite(f)) {
          expect(out).toBe('null');
          return;
        }
        expect(out).toBe(JSON.stringify(shortestFloat32(f)));
        expect(Math.fround(Number(out))).toBe(f === 0 ? 0 : f);
      }),
      { numRuns: 20_000 },
    );
  });

  it('shortestFloat32 is the fewest significant digits that round-trip', () => {
    fc.assert(
      fc.property(fc.float({ noNaN: true, noDefaultInfinity: true }).filter((f) => f !== 0), (f) => {
        const x = shortestFloat32(f);
        expect(Math.fround(x)).toBe(f);
        const digits = x.toExponential().split('e')[0]!.replace(/[-.]/g, '').length;
        if (digits > 1) expect(Math.fround(Number(f.toPrecision(digits - 1)))).not.toBe(f);
      }),
      { numRuns: 5_000 },
    );
  });

  it('numbers() writes a Float64Array as JSON.stringify writes its items, NaN (a null) as null, float32 as float32()', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(dataDouble, fc.constant(NaN), fc.float())), fc.boolean(), (items, float32) => {
        const out = written((w) => w.numbers(Float64Array.from(items), float32));
        const each = items.map((v) => written((w) => (float32 ? w.float32(v) : w.number(v))));
        expect(out).toBe(each.join(','));
        if (!float32) expect(`[${out}]`).toBe(JSON.stringify(items));
      }),
      { numRuns: 2_000 },
    );
  });

  it('timestampAt() writes the JSON string of formatTimestamp, for any time', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(
          fc.integer({ min: -62_167_219_200_000, max: 253_402_300_799_999 }),
          fc.integer({ min: 1_500_000_000, max: 2_000_000_000 }).map((s) => s * 1000),
          fc.integer({ min: -8.64e15, max: 8.64e15 }),
          fc.constantFrom(0, 1.5, -1),
        ), { minLength: 1 }),
        (times) => {
          const values = Float64Array.from(times);
          const out = written((w) => values.forEach((_, i) => w.timestampAt(values, i)));
          expect(out).toBe(times.map((ms) => JSON.stringify(formatTimestamp(ms))).join(''));
        },
      ),
      { numRuns: 2_000 },
    );
  });

  it('strings are escaped exactly as JSON.stringify escapes them', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (s) => {
        expect(written((w) => w.string(s))).toBe(JSON.stringify(s));
      }),
    );
  });

  it('copies parts of other bytes, short or long, at any offset, and repeats short and long parts of its own', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(40), fc.array(fc.tuple(fc.nat(300), fc.nat(300)), { maxLength: 8 }), (bytes, offset, parts) => {
        // The source sits inside a larger buffer, as a pooled response body does.
        const backing = new Uint8Array(offset + bytes.length + 7);
        backing.set(bytes, offset);
        const src = Buffer.from(backing.buffer, offset, bytes.length);
        const w = new JsonWriter();
        const expected: number[] = [];
        for (const [a, b] of parts) {
          const start = Math.min(a, b, bytes.length);
          const end = Math.min(Math.max(a, b), bytes.length);
          w.copy(src, start, end);
          expected.push(...bytes.subarray(start, end));
          const mark = w.length;
          w.repeat(mark - (end - start), mark);
          expected.push(...bytes.subarray(start, end));
        }
        expect([...w.view()]).toEqual(expected);
      }),
      { numRuns: 2000 },
    );
  });

  it('forgets what follows a mark (truncate), and starts a new document in the same buffer (reset)', () => {
    const w = new JsonWriter();
    w.raw('[1,');
    const mark = w.length;
    w.raw('2');
    w.truncate(mark);
    w.raw('3]');
    expect(new TextDecoder().decode(w.view())).toBe('[1,3]');
    w.reset();
    w.copy(new TextEncoder().encode('"a long enough string to take the word path"'), 0, 44);
    expect(new TextDecoder().decode(w.view())).toBe('"a long enough string to take the word path"');
  });

  it('grows its buffer for large documents and repeats earlier bytes', () => {
    const long = 'x'.repeat(100_000);
    const out = written((w) => {
      w.byte(0x5b);
      const start = w.length;
      w.string(long);
      const end = w.length;
      w.byte(0x2c);
      w.repeat(start, end);
      w.byte(0x5d);
    });
    expect(out).toBe(JSON.stringify([long, long]));
  });
});
