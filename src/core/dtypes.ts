/** Feature dtypes, and the checks on values of each, written once. */
export const DTYPES = [
  'int64',
  'float32',
  'float64',
  'string',
  'bool',
  'timestamp',
  'float32[]',
  'string[]',
  'int64[]',
] as const;

export type Dtype = (typeof DTYPES)[number];

/** Join keys are integers or strings; composite keys mix them freely. */
export type JoinKeyDtype = 'int64' | 'string';

/** Dtypes whose values are plain numbers (stored inline as f64 or f32): answers carry them as doubles. */
export function isNumberDtype(dtype: Dtype): boolean {
  return dtype === 'int64' || dtype === 'float32' || dtype === 'float64';
}

export function isDtype(s: unknown): s is Dtype {
  return typeof s === 'string' && (DTYPES as readonly string[]).includes(s);
}

const isInt = (v: unknown): boolean => typeof v === 'number' && Number.isSafeInteger(v);
const isNum = (v: unknown): boolean => typeof v === 'number' && Number.isFinite(v);

/**
 * Whether `v` is a valid (non-null) value of `dtype` as written in a config
 * or returned by a read. Timestamps are ISO-8601 strings or epoch
 * milliseconds.
 */
export function valueMatchesDtype(dtype: Dtype, v: unknown): boolean {
  switch (dtype) {
    case 'int64':
      return isInt(v);
    case 'float32':
    case 'float64':
      return isNum(v);
    case 'string':
      return typeof v === 'string';
    case 'bool':
      return typeof v === 'boolean';
    case 'timestamp':
      return (typeof v === 'string' && !Number.isNaN(Date.parse(v))) || isInt(v);
    case 'float32[]':
      return Array.isArray(v) && v.every(isNum);
    case 'int64[]':
      return Array.isArray(v) && v.every(isInt);
    case 'string[]':
      return Array.isArray(v) && v.every((x) => typeof x === 'string');
  }
}

/** A human description of a JS value's type, for error messages. */
export function describeType(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number' && !Number.isInteger(v)) return `non-integer number ${v}`;
  return typeof v;
}
