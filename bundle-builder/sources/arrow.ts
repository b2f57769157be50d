/**
 * Arrow IPC (Feather v2) sources: apache-arrow reads the file, and its
 * columns are loaded into a DuckDB temp table so that Arrow data takes the
 * same SQL path (schema check, as-of snapshot) as Parquet and CSV. The row
 * order of the file is kept as the source position (`__larder_row`).
 */
import { readFile } from 'node:fs/promises';
import {
  BIGINT, BOOLEAN, DATE, DOUBLE, DuckDBDataChunk, DuckDBDateValue, type DuckDBConnection, DuckDBTimestampTZValue,
  DuckDBTimestampValue, type DuckDBType, type DuckDBValue, FLOAT, INTEGER, LIST, SMALLINT, TIMESTAMP, TIMESTAMPTZ,
  TINYINT, UBIGINT, UINTEGER, USMALLINT, UTINYINT, VARCHAR, listValue,
} from '@duckdb/node-api';
import { type DataType, type Field, type Table, Type, tableFromIPC } from 'apache-arrow';
import { sqlIdent } from '../duckdb.js';
import { LarderError } from '../../src/core/errors.js';

const MS_PER_DAY = 86_400_000;

/** How one Arrow column becomes a DuckDB column. */
interface ColumnLoad {
  name: string;
  /** DuckDB type name as DESCRIBE prints it (what the schema check sees). */
  sqlType: string;
  duckType: DuckDBType;
  convert: (v: unknown) => DuckDBValue;
}

interface Mapped {
  sqlType: string;
  duckType: DuckDBType;
  convert: (v: unknown) => DuckDBValue;
}

const same = (v: unknown): DuckDBValue => v as DuckDBValue;
const toBigInt = (v: unknown): DuckDBValue => (typeof v === 'bigint' ? v : BigInt(v as number));
/** apache-arrow gives timestamps as epoch milliseconds (a number, maybe fractional). */
const micros = (v: unknown): bigint => BigInt(Math.round((v as number) * 1000));

function mapType(type: DataType): Mapped | undefined {
  switch (type.typeId) {
    case Type.Int: {
      const { bitWidth, isSigned } = type as unknown as { bitWidth: number; isSigned: boolean };
      if (isSigned) {
        if (bitWidth === 8) return { sqlType: 'TINYINT', duckType: TINYINT, convert: same };
        if (bitWidth === 16) return { sqlType: 'SMALLINT', duckType: SMALLINT, convert: same };
        if (bitWidth === 32) return { sqlType: 'INTEGER', duckType: INTEGER, convert: same };
        return { sqlType: 'BIGINT', duckType: BIGINT, convert: toBigInt };
      }
      if (bitWidth === 8) return { sqlType: 'UTINYINT', duckType: UTINYINT, convert: same };
      if (bitWidth === 16) return { sqlType: 'USMALLINT', duckType: USMALLINT, convert: same };
      if (bitWidth === 32) return { sqlType: 'UINTEGER', duckType: UINTEGER, convert: same };
      return { sqlType: 'UBIGINT', duckType: UBIGINT, convert: toBigInt };
    }
    case Type.Float: {
      const { precision } = type as unknown as { precision: number };
      // Precision.DOUBLE is 2; HALF and SINGLE widen to FLOAT exactly.
      return precision === 2 ? { sqlType: 'DOUBLE', duckType: DOUBLE, convert: same } : { sqlType: 'FLOAT', duckType: FLOAT, convert: same };
    }
    case Type.Utf8:
    case Type.LargeUtf8:
    case Type.Utf8View:
      return { sqlType: 'VARCHAR', duckType: VARCHAR, convert: same };
    case Type.Dictionary: {
      const dict = (type as unknown as { dictionary: DataType }).dictionary;
      const inner = mapType(dict);
      return inner?.sqlType === 'VARCHAR' ? inner : undefined;
    }
    case Type.Bool:
      return { sqlType: 'BOOLEAN', duckType: BOOLEAN, convert: same };
    case Type.Timestamp: {
      const tz = (type as unknown as { timezone?: string | null }).timezone;
      return tz
        ? { sqlType: 'TIMESTAMP WITH TIME ZONE', duckType: TIMESTAMPTZ, convert: (v) => new DuckDBTimestampTZValue(micros(v)) }
        : { sqlType: 'TIMESTAMP', duckType: TIMESTAMP, convert: (v) => new DuckDBTimestampValue(micros(v)) };
    }
    case Type.Date:
      return { sqlType: 'DATE', duckType: DATE, convert: (v) => new DuckDBDateValue(Math.floor((v as number) / MS_PER_DAY)) };
    case Type.List:
    case Type.LargeList:
    case Type.FixedSizeList: {
      const child = (type as unknown as { children: Field[] }).children[0];
      const inner = child && mapType(child.type);
      if (!inner || inner.sqlType.endsWith(']')) return undefined;
      return {
        sqlType: `${inner.sqlType}[]`,
        duckType: LIST(inner.duckType),
        convert: (v) => {
          const items: DuckDBValue[] = [];
          for (const x of v as Iterable<unknown>) items.push(x === null || x === undefined ? null : inner.convert(x));
          return listValue(items);
        },
      };
    }
    default:
      return undefined;
  }
}

export interface ArrowFile {
  file: string;
  table: Table;
  /** Column -> DuckDB type name; unsupported Arrow types appear as `arrow <Type>`. */
  columns: Map<string, string>;
  loads: ColumnLoad[];
}

/**
 * Reads an Arrow IPC file (file or stream format). Throws LARDER_ERR_SOURCE
 * saying what is wrong; the caller adds the config file, source and file.
 */
export async function readArrowFile(file: string): Promise<ArrowFile> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(file);
  } catch (e) {
    throw new LarderError('LARDER_ERR_SOURCE', (e as Error).message, { cause: e });
  }
  let table: Table;
  try {
    table = tableFromIPC(bytes);
  } catch (e) {
    throw new LarderError('LARDER_ERR_SOURCE', `not a readable Arrow IPC file: ${(e as Error).message}`, { cause: e });
  }
  if (table.schema.fields.length === 0) throw new LarderError('LARDER_ERR_SOURCE', 'not a readable Arrow IPC file: no columns');
  const columns = new Map<string, string>();
  const loads: ColumnLoad[] = [];
  for (const field of table.schema.fields) {
    const m = mapType(field.type);
    if (!m) {
      columns.set(field.name, `arrow ${String(field.type)}`);
      continue;
    }
    columns.set(field.name, m.sqlType);
    loads.push({ name: field.name, ...m });
  }
  return { file, table, columns, loads };
}

const CHUNK_ROWS = 2048;

/**
 * Copies the Arrow table's supported columns into temp table `tableName`,
 * adding `__larder_row` (row index in the file); the file name, one constant
 * per table, is added by the source's relation.
 */
export async function loadArrowIntoDuckDB(conn: DuckDBConnection, arrow: ArrowFile, tableName: string): Promise<void> {
  const cols = [
    ...arrow.loads.map((l) => `${sqlIdent(l.name)} ${l.sqlType.replace('TIMESTAMP WITH TIME ZONE', 'TIMESTAMPTZ')}`),
    '__larder_row BIGINT',
  ];
  await conn.run(`CREATE OR REPLACE TEMP TABLE ${sqlIdent(tableName)} (${cols.join(', ')})`);
  const appender = await conn.createAppender(tableName);
  const types = [...arrow.loads.map((l) => l.duckType), BIGINT];
  const vectors = arrow.loads.map((l) => arrow.table.getChild(l.name)!);
  const n = arrow.table.numRows;
  for (let start = 0; start < n; start += CHUNK_ROWS) {
    const rows = Math.min(CHUNK_ROWS, n - start);
    const chunk = DuckDBDataChunk.create(types, rows);
    const columns: DuckDBValue[][] = arrow.loads.map((l, c) => {
      const vec = vectors[c]!;
      const out = new Array<DuckDBValue>(rows);
      for (let i = 0; i < rows; i++) {
        const v: unknown = vec.get(start + i);
        out[i] = v === null || v === undefined ? null : l.convert(v);
      }
      return out;
    });
    columns.push(Array.from({ length: rows }, (_, i) => BigInt(start + i)));
    chunk.setColumns(columns);
    appender.appendDataChunk(chunk);
  }
  appender.flushSync();
  appender.closeSync();
}
