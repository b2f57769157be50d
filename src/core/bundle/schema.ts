/**
 * The shapes of a bundle's manifest and layout (format.ts), checked at
 * decode so that a bundle whose checksums are valid but whose metadata is
 * not of its format (hand-made, forged, or written by a buggy tool) is
 * rejected with LARDER_ERR_BUNDLE_CORRUPT naming the field, instead of
 * failing later with a TypeError. The feature repo inside is checked for
 * the shape readers rely on, not for every rule of a config file
 * (validateRepo): encodeBundle writes any repo it is given, and what it
 * writes decodes.
 */
import { DTYPES, valueMatchesDtype } from '../dtypes.js';
import { LarderError } from '../errors.js';
import type { BundleLayout, BundleManifest } from './format.js';
import {
  type Shape, ShapeError, anyOf, array, boolean, count, integer, literal, matching, nonEmptyString, nullValue, nullable,
  number, object, optional, record, shape, string,
} from './shape.js';

const corrupt = (msg: string) => new LarderError('LARDER_ERR_BUNDLE_CORRUPT', `bundle is corrupt: ${msg}`);

/** As Date.toISOString writes it (six-digit years with a sign outside 0000..9999). */
const isoTime = matching(/^(\d{4}|[+-]\d{6})-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/, 'an ISO-8601 UTC time');
/** Stats are computed over data that may hold infinities, which the manifest's JSON-safe packing turns into null. */
const statNumber = nullable(number);

const nonNegative = shape('a number >= 0', (v) => typeof v === 'number' && v >= 0 && Number.isFinite(v));

const featureStats = object({
  count,
  nullCount: count,
  nullRate: statNumber,
  min: optional(statNumber),
  max: optional(statNumber),
  mean: optional(statNumber),
  histogram: optional(object({ min: statNumber, max: statNumber, counts: array(count) })),
  topValues: optional(array(object({ value: anyOf('a string or a boolean', string, boolean), count }))),
  length: optional(object({ min: statNumber, max: statNumber, mean: statNumber })),
});

/** A feature's default: a value of some dtype (validateRepo checks it is one of the feature's). */
const featureValue = anyOf(
  'null, a number, a string, a boolean or an array of them',
  nullValue, number, string, boolean, array(anyOf('null, a number or a string', nullValue, number, string)),
);

const repoShape = object({
  project: nonEmptyString,
  entities: array(object({ name: string, joinKeys: array(string), description: optional(string) })),
  sources: array(object({ name: string, path: string, timestampField: string, createdTimestampField: optional(string) })),
  featureViews: array(object({
    name: string,
    entities: array(string),
    source: string,
    ttlSeconds: nonNegative,
    online: optional(boolean),
    owner: optional(string),
    description: optional(string),
    tags: optional(record(string)),
    features: array(object({ name: string, dtype: literal(...DTYPES), default: optional(featureValue), description: optional(string) })),
  })),
  featureServices: array(object({ name: string, features: array(string), description: optional(string) })),
});

const manifestShape = object({
  format: literal('larder-bundle'),
  formatVersion: integer,
  project: nonEmptyString,
  version: count,
  parentVersion: nullable(count),
  createdAt: isoTime,
  asOf: isoTime,
  contentSha256: matching(/^[0-9a-f]{64}$/, 'a SHA-256 in lower-case hex'),
  repo: repoShape,
  views: array(object({
    name: string,
    keyCount: count,
    joinKeys: array(object({ name: nonEmptyString, dtype: literal('int64', 'string') })),
    features: record(featureStats),
  })),
  warnings: array(string),
});

const FIELD_KINDS = ['f64', 'f32', 'u8', 'str', 'dict', 'f32list', 'packed'] as const;
const block = object({ offset: count, length: count });
const layoutShape = object({
  views: array(object({
    name: string,
    rows: count,
    stride: count,
    nullsOffset: count,
    fields: array(object({ name: string, kind: literal(...FIELD_KINDS), offset: count, dictionary: optional(array(string)) })),
    slots: block,
    records: block,
    heap: block,
  })),
});

function checkShape(v: unknown, s: Shape, path: string): void {
  try {
    s(v, path);
  } catch (e) {
    if (e instanceof ShapeError) throw corrupt(e.message);
    throw e;
  }
}

/** Checks a decoded manifest's shape and the views it lists. */
export function checkManifest(m: unknown): asserts m is BundleManifest {
  checkShape(m, manifestShape, 'manifest');
  const manifest = m as BundleManifest;
  // A default is answered for every hole: one of another dtype would answer values of the wrong type.
  manifest.repo.featureViews.forEach((v, i) => v.features.forEach((f, j) => {
    if (f.default !== undefined && f.default !== null && !valueMatchesDtype(f.dtype, f.default)) {
      throw corrupt(`manifest.repo.featureViews[${i}].features[${j}].default ${JSON.stringify(f.default).slice(0, 40)} is not a valid ${f.dtype}`);
    }
  }));
  const seen = new Set<string>();
  manifest.views.forEach((v, i) => {
    const where = `manifest.views[${i}]`;
    if (seen.has(v.name)) throw corrupt(`${where}.name: view "${v.name}" is listed twice`);
    seen.add(v.name);
    const def = manifest.repo.featureViews.find((d) => d.name === v.name);
    if (!def) throw corrupt(`${where}.name: view "${v.name}" has no definition in manifest.repo.featureViews`);
    if (v.joinKeys.length === 0) throw corrupt(`${where}.joinKeys: view "${v.name}" has no join keys`);
    if (new Set(v.joinKeys.map((k) => k.name)).size !== v.joinKeys.length) throw corrupt(`${where}.joinKeys: view "${v.name}" names a join key twice`);
  });
}

/** Checks a decoded layout's shape and that it lists the manifest's views, in order, with their key counts. */
export function checkLayoutShape(l: unknown, manifest: BundleManifest): asserts l is BundleLayout {
  checkShape(l, layoutShape, 'layout');
  const layout = l as BundleLayout;
  if (layout.views.length !== manifest.views.length) {
    throw corrupt(`layout.views lists ${layout.views.length} views, the manifest ${manifest.views.length}`);
  }
  layout.views.forEach((v, i) => {
    const listed = manifest.views[i]!;
    if (v.name !== listed.name) throw corrupt(`layout.views[${i}].name is "${v.name}", but manifest.views[${i}] is "${listed.name}"`);
    if (v.rows !== listed.keyCount) throw corrupt(`layout.views[${i}].rows is ${v.rows}, but the manifest says view "${v.name}" holds ${listed.keyCount} keys`);
  });
}
