/**
 * Which source column types can feed which larder dtype, and the SQL that
 * turns such a column into the one physical type the snapshot reader
 * expects for that dtype.
 *
 * Compatibility (source column type, as DuckDB names it -> dtype):
 *   int64      <- any integer type (TINYINT ... BIGINT, unsigned, HUGEINT).
 *                 Values must fit in ±2^53 (checked per value while reading).
 *   float32,
 *   float64    <- FLOAT, DOUBLE, DECIMAL, and integer types: CSV sniffing
 *                 types a float column BIGINT when its sampled rows are all
 *                 whole numbers, and every such integer is exact as a double.
 *   string     <- VARCHAR (and ENUM, read as its label). Numbers are not
 *                 silently turned into strings: declare the column's type.
 *   bool       <- BOOLEAN.
 *   timestamp  <- TIMESTAMP (any precision), TIMESTAMP WITH TIME ZONE, DATE.
 *                 Stored as epoch milliseconds; a zone-less TIMESTAMP is UTC.
 *   float32[]  <- lists or fixed-size arrays of FLOAT or DOUBLE.
 *   string[]   <- lists or arrays of VARCHAR.
 *   int64[]    <- lists or arrays of integer types.
 *   any list   <- VARCHAR holding list text such as "[1.5, 2]": CSV has no
 *                 list type, so embeddings in CSV arrive as text; DuckDB's
 *                 cast parses them, and a malformed value fails the build.
 * Event and created timestamp fields take the timestamp rule; join keys are
 * integer types (-> int64) or VARCHAR (-> string).
 */
import type { Dtype, JoinKeyDtype } from '../../src/core/dtypes.js';
import { MAX_TIME_MS, MIN_TIME_MS } from '../../src/core/time.js';
import { sqlIdent } from '../duckdb.js';

const INTEGER_TYPES = new Set([
  'TINYINT', 'SMALLINT', 'INTEGER', 'BIGINT', 'HUGEINT',
  'UTINYINT', 'USMALLINT', 'UINTEGER', 'UBIGINT', 'UHUGEINT',
]);
const FLOAT_TYPES = new Set(['FLOAT', 'DOUBLE']);
const TIMESTAMP_TYPES = new Set([
  'TIMESTAMP', 'TIMESTAMP_S', 'TIMESTAMP_MS', 'TIMESTAMP_NS', 'TIMESTAMP WITH TIME ZONE', 'DATE',
]);

const isInteger = (t: string): boolean => INTEGER_TYPES.has(t);
const isFloat = (t: string): boolean => FLOAT_TYPES.has(t) || t.startsWith('DECIMAL');
const isVarchar = (t: string): boolean => t === 'VARCHAR';
const isEnum = (t: string): boolean => t.startsWith('ENUM(');
export const isTimestampType = (t: string): boolean => TIMESTAMP_TYPES.has(t);

/** The element type of a list ("FLOAT[]") or array ("FLOAT[4]") type; undefined otherwise. */
export function elementType(t: string): string | undefined {
  const m = /^(.*)\[\d*\]$/.exec(t);
  return m ? m[1] : undefined;
}

/** Whether a column of DuckDB type `t` can hold values of `dtype` (see the table above). */
export function columnFits(dtype: Dtype, t: string): boolean {
  switch (dtype) {
    case 'int64':
      return isInteger(t);
    case 'float32':
    case 'float64':
      return isFloat(t) || isInteger(t);
    case 'string':
      return isVarchar(t) || isEnum(t);
    case 'bool':
      return t === 'BOOLEAN';
    case 'timestamp':
      return isTimestampType(t);
  }
  if (isVarchar(t)) return true; // list text, parsed by the cast
  const el = elementType(t);
  if (el === undefined) return false;
  if (dtype === 'float32[]') return FLOAT_TYPES.has(el);
  if (dtype === 'string[]') return isVarchar(el);
  return isInteger(el); // int64[]
}

/** The DuckDB types that fit `dtype`, for error messages. */
export function expectedTypes(dtype: Dtype): string {
  switch (dtype) {
    case 'int64': return 'an integer type (INTEGER, BIGINT, ...)';
    case 'float32':
    case 'float64': return 'FLOAT, DOUBLE, DECIMAL or an integer type';
    case 'string': return 'VARCHAR';
    case 'bool': return 'BOOLEAN';
    case 'timestamp': return 'TIMESTAMP, TIMESTAMP WITH TIME ZONE or DATE';
    case 'float32[]': return 'FLOAT[] or DOUBLE[] (or list text in a VARCHAR)';
    case 'string[]': return 'VARCHAR[] (or list text in a VARCHAR)';
    case 'int64[]': return 'a list of integers such as BIGINT[] (or list text in a VARCHAR)';
  }
}

/** The join-key dtype a column of type `t` gives, or undefined when it cannot be a join key. */
export function joinKeyDtype(t: string): JoinKeyDtype | undefined {
  if (isInteger(t)) return 'int64';
  if (isVarchar(t)) return 'string';
  return undefined;
}

/**
 * Epoch milliseconds (BIGINT) of a timestamp-typed column. NULL for a null,
 * and also for infinity, -infinity and a DATE beyond TIMESTAMP's range:
 * badTimeSql tells those apart from nulls.
 */
export function epochMsSql(column: string, t: string): string {
  const c = sqlIdent(column);
  if (t === 'TIMESTAMP WITH TIME ZONE') return `epoch_ms(${c})`;
  return `epoch_ms(TRY_CAST(${c} AS TIMESTAMP))`;
}

/**
 * Whether a timestamp-typed column holds a time larder cannot store (see
 * MIN_TIME_MS): infinite, or outside the years 0001 to 9999. DuckDB's
 * timestamps reach years -290,000 to 294,000.
 */
export function badTimeSql(column: string, t: string): string {
  // A non-null value whose epoch ms is NULL (infinite, or past TIMESTAMP) or out of range; epoch ms computed once.
  return `(${sqlIdent(column)} IS NOT NULL AND NOT coalesce(${epochMsSql(column, t)} BETWEEN ${MIN_TIME_MS} AND ${MAX_TIME_MS}, false))`;
}

/**
 * The physical type the snapshot reader gets for each dtype: BIGINT for
 * int64 and timestamp (epoch ms), DOUBLE for floats, VARCHAR, BOOLEAN, and
 * FLOAT[] / VARCHAR[] / BIGINT[] for lists.
 */
export function featureSql(column: string, dtype: Dtype, t: string): string {
  const c = sqlIdent(column);
  switch (dtype) {
    case 'int64': return `CAST(${c} AS BIGINT)`;
    case 'float32':
    case 'float64': return `CAST(${c} AS DOUBLE)`;
    case 'string': return `CAST(${c} AS VARCHAR)`;
    case 'bool': return c;
    case 'timestamp': return epochMsSql(column, t);
    case 'float32[]': return `CAST(${c} AS FLOAT[])`;
    case 'string[]': return `CAST(${c} AS VARCHAR[])`;
    case 'int64[]': return `CAST(${c} AS BIGINT[])`;
  }
}
