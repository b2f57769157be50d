/**
 * A small checker of decoded msgpack against the shape a reader expects.
 * msgpack can hold any value where a field should be (null, a bigint, a
 * Date, a typed array, a map where a list belongs), and a reader that
 * trusts the field fails far from the cause with a TypeError. Each field a
 * reader relies on is checked here, once, at decode; a violation names its
 * path, e.g. `manifest.repo.featureServices[0].features must be an array,
 * got null`. Fields a shape does not name are ignored (room for additions).
 */

/** A checker: returns nothing for a value of the shape, throws ShapeError otherwise. */
export type Shape = ((v: unknown, path: string) => void) & {
  /** What a value must be, for messages: "an array", "a string", ... */
  readonly expected: string;
  /** Whether an object may lack the field (see optional). */
  readonly optional?: boolean;
};

const make = (expected: string, check: (v: unknown, path: string) => void, optional = false): Shape =>
  Object.assign(check, { expected, optional });

/** A value not of its shape; `message` names the path. */
export class ShapeError extends Error {
  constructor(readonly path: string, expected: string, got: unknown) {
    super(`${path} must be ${expected}, got ${describe(got)}`);
    this.name = 'ShapeError';
  }
}

/** What a wrong value is, for messages; short whatever the value. */
export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'nothing';
  if (Array.isArray(v)) return `an array of ${v.length}`;
  switch (typeof v) {
    case 'number':
      return `the number ${v}`;
    case 'string':
      return `the string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v)}`;
    case 'bigint':
      return `the bigint ${v > 10n ** 30n || v < -(10n ** 30n) ? 'of more than 30 digits' : String(v)}`;
    case 'object':
      return isPlainObject(v) ? 'an object' : `a ${(v as object).constructor?.name ?? 'non-plain object'}`;
    default:
      return typeof v;
  }
}

/** A map as msgpack decodes it: an object with no prototype but Object's (not a Date, a typed array, ...). */
export function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

/** A checker of values passing `test`, described as `expected` in messages. */
export const shape = (expected: string, test: (v: unknown) => boolean): Shape =>
  make(expected, (v, path) => {
    if (!test(v)) throw new ShapeError(path, expected, v);
  });

export const string = shape('a string', (v) => typeof v === 'string');
export const nonEmptyString = shape('a non-empty string', (v) => typeof v === 'string' && v.length > 0);
export const boolean = shape('a boolean', (v) => typeof v === 'boolean');
/** Any double, NaN and infinities included. */
export const number = shape('a number', (v) => typeof v === 'number');
/** A count, offset or length: a safe integer >= 0. */
export const count = shape('an integer >= 0', (v) => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0);
export const integer = shape('an integer', (v) => typeof v === 'number' && Number.isSafeInteger(v));
export const nullValue = shape('null', (v) => v === null);

/** One of the given strings. */
export function literal(...values: readonly string[]): Shape {
  const text = values.length === 1 ? JSON.stringify(values[0]) : `one of ${values.map((s) => JSON.stringify(s)).join(', ')}`;
  return shape(text, (v) => typeof v === 'string' && values.includes(v));
}

/** A string matching `re`, described as `expected`. */
export function matching(re: RegExp, expected: string): Shape {
  return shape(expected, (v) => typeof v === 'string' && re.test(v));
}

/** A field that may be absent (undefined); when present it must be of `inner`. */
export function optional(inner: Shape): Shape {
  return make(inner.expected, (v, path) => {
    if (v !== undefined) inner(v, path);
  }, true);
}

export function nullable(inner: Shape): Shape {
  return make(`${inner.expected} or null`, (v, path) => {
    if (v !== null) inner(v, path);
  });
}

/** A value of any of `shapes`; `expected` says which for the message. */
export function anyOf(expected: string, ...shapes: Shape[]): Shape {
  return make(expected, (v, path) => {
    for (const s of shapes) {
      try {
        s(v, path);
        return;
      } catch (e) {
        if (!(e instanceof ShapeError)) throw e;
      }
    }
    throw new ShapeError(path, expected, v);
  });
}

export function array(item: Shape): Shape {
  return make('an array', (v, path) => {
    if (!Array.isArray(v)) throw new ShapeError(path, 'an array', v);
    for (let i = 0; i < v.length; i++) item(v[i], `${path}[${i}]`);
  });
}

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;
const child = (path: string, key: string) => (IDENTIFIER.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`);

/** A map with (at least) these fields. */
export function object(fields: Readonly<Record<string, Shape>>): Shape {
  const entries = Object.entries(fields);
  return make('an object', (v, path) => {
    if (!isPlainObject(v)) throw new ShapeError(path, 'an object', v);
    for (const [key, s] of entries) {
      const value = Object.hasOwn(v, key) ? v[key] : undefined;
      if (value === undefined && !s.optional) throw new ShapeError(child(path, key), s.expected, undefined);
      s(value, child(path, key));
    }
  });
}

/** A map of any keys whose values are all of `value`. */
export function record(value: Shape): Shape {
  return make('an object', (v, path) => {
    if (!isPlainObject(v)) throw new ShapeError(path, 'an object', v);
    for (const key of Object.keys(v)) value(v[key], child(path, key));
  });
}
