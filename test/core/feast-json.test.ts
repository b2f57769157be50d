/**
 * The Feast response serializer writes JSON.stringify's text, except that
 * float32 columns hold the shortest decimal that reads back as the same
 * float32 (what Feast's protobuf JSON prints).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { OnlineFeaturesResponse } from '../../src/core/feast/request.js';
import { shortestFloat32 } from '../../src/core/feast/json-writer.js';
import { feastResponseJson, responseColumns } from '../../src/core/feast/response-json.js';

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

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
        expect(text(feastResponseJson(responseColumns(r)))).toBe(JSON.stringify(r));
      }),
      { numRuns: 2000 },
    );
  });

  it('says where each column\'s values and statuses are in the bytes (spans)', () => {
    fc.assert(
      fc.property(response, (r) => {
        const spans = new Int32Array(4 * r.results.length).fill(-1);
        const bytes = feastResponseJson(responseColumns(r), undefined, spans);
        r.results.forEach((col, c) => {
          const part = (from: number, to: number) => JSON.parse(`[${text(bytes.subarray(spans[4 * c + from]!, spans[4 * c + to]!))}]`) as unknown;
          expect(part(0, 1)).toEqual(JSON.parse(JSON.stringify(col.values)));
          expect(part(2, 3)).toEqual(col.statuses);
        });
      }),
      { numRuns: 1000 },
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
    expect(text(feastResponseJson(responseColumns(r)))).toBe(JSON.stringify(r));
  });

  it('writes float32 columns as the shortest decimal that reads back as the same float32', () => {
    // What the text of a float32 value must be: the oracle's number, as JSON writes it.
    const asFloat32 = (v: unknown): unknown =>
      typeof v === 'number' ? (Number.isFinite(v) ? shortestFloat32(Math.fround(v)) : null) : Array.isArray(v) ? v.map(asFloat32) : v;
    const float32Value = fc.oneof(
      fc.float(), // any float32, including subnormals, ±Infinity, NaN and -0
      fc.integer({ min: -1e7, max: 1e7 }).chain((n) => fc.integer({ min: 0, max: 9 }).map((d) => n / 10 ** d)), // "decimal" data
      fc.double(), // defaults and values that are not float32 yet
      fc.constant(null),
      fc.array(fc.float(), { maxLength: 4 }), // embeddings
    );
    fc.assert(
      fc.property(fc.array(float32Value, { minLength: 1, maxLength: 8 }), fc.array(anyValue, { minLength: 1, maxLength: 8 }), (f32, other) => {
        const n = Math.min(f32.length, other.length);
        const column = (values: unknown[]) => ({ values: values.slice(0, n), statuses: new Array(n).fill('PRESENT'), event_timestamps: new Array(n).fill('1970-01-01T00:00:00Z') });
        const r = { metadata: { feature_names: ['user_id', 'ctr', 'other'] }, results: [column(other), column(f32), column(other)] } as OnlineFeaturesResponse;
        const expected = { ...r, results: [r.results[0], { ...r.results[1]!, values: r.results[1]!.values.map(asFloat32) }, r.results[2]] };
        expect(text(feastResponseJson(responseColumns(r, [false, true, false])))).toBe(JSON.stringify(expected));
      }),
      { numRuns: 3000 },
    );
  });

  it('float32 examples: short where the float32 allows, exact where it does not', () => {
    const one = (v: number) => text(feastResponseJson(responseColumns({ metadata: { feature_names: ['x'] }, results: [{ values: [v], statuses: ['PRESENT'], event_timestamps: ['1970-01-01T00:00:00Z'] }] }, [true])));
    const valueOf = (json: string) => json.slice(json.indexOf('"values":[') + 10, json.indexOf('],"statuses"'));
    expect(valueOf(one(Math.fround(0.1)))).toBe('0.1');
    expect(valueOf(one(Math.fround(0.123)))).toBe('0.123');
    expect(valueOf(one(Math.fround(-2500.75)))).toBe('-2500.75');
    expect(valueOf(one(16777216))).toBe('16777216');
    expect(valueOf(one(Math.fround(1e-7)))).toBe('1e-7');
    expect(valueOf(one(Math.fround(3.4e38)))).toBe('3.4e+38');
    expect(valueOf(one(-0))).toBe('0');
    expect(valueOf(one(NaN))).toBe('null');
    // 0.1 as a double is not a float32: it is written as the float32 it reads back to.
    expect(valueOf(one(0.1))).toBe('0.1');
    expect(Math.fround(Number(valueOf(one(Math.fround(Math.PI)))))).toBe(Math.fround(Math.PI));
    expect(valueOf(one(Math.fround(Math.PI)))).toBe('3.1415927');
  });
});
