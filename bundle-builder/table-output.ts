/**
 * Writes a DuckDB table to a file whose extension names the format:
 * Parquet (.parquet, .pq) and CSV (.csv) by DuckDB's COPY; Arrow IPC
 * (.arrow, .feather, .ipc) by apache-arrow, since DuckDB cannot write it
 * without an extension that needs the network. Rows keep the table's
 * insertion order. The file appears whole or not at all: it is written
 * beside the target and renamed over it.
 */
import { rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import {
  DuckDBDateValue, type DuckDBConnection, DuckDBDecimalValue, DuckDBListValue, DuckDBTimestampTZValue, DuckDBTimestampValue,
  type DuckDBType, DuckDBTypeId, type DuckDBValue,
} from '@duckdb/node-api';
import {
  Bool, type DataType, DateDay, Field, Float32, Float64, Int16, Int32, Int64, Int8, List, RecordBatch, RecordBatchFileWriter, Schema,
  Struct, TimestampMicrosecond, Utf8, makeData, vectorFromArray,
} from 'apache-arrow';
import { sqlIdent, sqlString } from './duckdb.js';

export type OutputFormat = 'parquet' | 'csv' | 'arrow';

const EXTENSIONS: [RegExp, OutputFormat][] = [
  [/\.(parquet|pq)$/i, 'parquet'],
  [/\.csv$/i, 'csv'],
  [/\.(arrow|feather|ipc)$/i, 'arrow'],
];

export const OUTPUT_EXTENSIONS = '.parquet, .pq, .csv, .arrow, .feather, .ipc';

export function outputFormatOf(path: string): OutputFormat | undefined {
  return EXTENSIONS.find(([re]) => re.test(path))?.[1];
}

/** A column type the Arrow writer cannot write (the message names it). */
export class OutputTypeError extends Error {}

/**
 * Writes `columns` of `table` to `path` in `format`. Throws OutputTypeError
 * for a column Arrow output cannot hold.
 */
export async function writeTableFile(conn: DuckDBConnection, table: string, columns: readonly string[], path: string, format: OutputFormat): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  const select = `SELECT ${columns.map(sqlIdent).join(', ')} FROM ${sqlIdent(table)}`;
  try {
    if (format === 'arrow') await writeArrow(conn, select, tmp);
    else await conn.run(`COPY (${select}) TO ${sqlString(tmp)} (FORMAT ${format === 'csv' ? 'csv, HEADER true' : 'parquet'})`);
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}

/** How one DuckDB column becomes an Arrow column. */
interface ArrowColumn {
  type: DataType;
  /** The values of one chunk as an Arrow vector's data. */
  data(values: DuckDBValue[]): ReturnType<typeof makeData>;
}

const micros = (v: DuckDBValue): bigint => (v as DuckDBTimestampValue | DuckDBTimestampTZValue).micros;

/** A column built by apache-arrow's builders from JS values. */
function built(type: DataType, toJs: (v: DuckDBValue) => unknown): ArrowColumn {
  return { type, data: (values) => vectorFromArray(values.map((v) => (v === null ? null : toJs(v))), type).data[0]! };
}

/** Timestamps as 64-bit microseconds, exactly (the builders take milliseconds as doubles). */
function timestampColumn(timezone: string | null): ArrowColumn {
  const type = new TimestampMicrosecond(timezone);
  return {
    type,
    data: (values) => {
      const data = new BigInt64Array(values.length);
      const nullBitmap = new Uint8Array(Math.ceil(values.length / 8));
      let nullCount = 0;
      values.forEach((v, i) => {
        if (v === null) nullCount++;
        else {
          data[i] = micros(v);
          nullBitmap[i >> 3]! |= 1 << (i & 7);
        }
      });
      return makeData({ type, length: values.length, nullCount, nullBitmap, data });
    },
  };
}

function toNumber(v: DuckDBValue): number {
  if (typeof v === 'bigint') return Number(v);
  if (v instanceof DuckDBDecimalValue) return v.toDouble();
  return v as number;
}

/** The Arrow column for a DuckDB type, or a reason why there is none. */
function arrowColumn(t: DuckDBType): ArrowColumn | string {
  switch (t.typeId) {
    case DuckDBTypeId.BOOLEAN: return built(new Bool(), (v) => v);
    case DuckDBTypeId.TINYINT: return built(new Int8(), (v) => v);
    case DuckDBTypeId.SMALLINT: return built(new Int16(), (v) => v);
    case DuckDBTypeId.INTEGER: return built(new Int32(), (v) => v);
    case DuckDBTypeId.BIGINT: return built(new Int64(), (v) => v);
    case DuckDBTypeId.FLOAT: return built(new Float32(), (v) => v);
    case DuckDBTypeId.DOUBLE: return built(new Float64(), (v) => v);
    case DuckDBTypeId.DECIMAL: return built(new Float64(), toNumber);
    case DuckDBTypeId.VARCHAR: return built(new Utf8(), (v) => v);
    case DuckDBTypeId.DATE: return built(new DateDay(), (v) => new Date((v as DuckDBDateValue).days * 86_400_000));
    case DuckDBTypeId.TIMESTAMP: return timestampColumn(null);
    case DuckDBTypeId.TIMESTAMP_TZ: return timestampColumn('UTC');
    case DuckDBTypeId.LIST: {
      const child = arrowColumn((t as unknown as { valueType: DuckDBType }).valueType);
      if (typeof child === 'string') return child;
      if (child.type instanceof List || child.type instanceof Struct) return `${t.toString()} (nested lists)`;
      const elementJs = (x: DuckDBValue): unknown => (x === null ? null : typeof x === 'bigint' && child.type instanceof Float64 ? Number(x) : x);
      return built(new List(new Field('item', child.type, true)), (v) => (v as DuckDBListValue).items.map(elementJs));
    }
    default:
      return t.toString();
  }
}

async function writeArrow(conn: DuckDBConnection, select: string, path: string): Promise<void> {
  const result = await conn.stream(select);
  const names = result.columnNames();
  const columns = result.columnTypes().map((t, i) => {
    const c = arrowColumn(t);
    if (typeof c === 'string') throw new OutputTypeError(`column "${names[i]}" has type ${c}, which Arrow output does not write; write .parquet or .csv instead`);
    return c;
  });
  const schema = new Schema(names.map((n, i) => new Field(n, columns[i]!.type, true)));
  const writer = new RecordBatchFileWriter();
  writer.reset(undefined, schema);
  for (;;) {
    const chunk = await result.fetchChunk();
    if (!chunk || chunk.rowCount === 0) break;
    const values = chunk.getColumns();
    const children = columns.map((c, i) => c.data(values[i]!));
    const struct = makeData({ type: new Struct(schema.fields), length: chunk.rowCount, nullCount: 0, children });
    writer.write(new RecordBatch(schema, struct));
  }
  writer.finish();
  await writeFile(path, await writer.toUint8Array());
}
