/**
 * Opens a source: lists its files, reads each file's schema (so that a
 * missing column or an unreadable file is reported with that file's name),
 * and gives the SQL relation the snapshot reads from. The relation yields
 * the source's columns plus the source position: `__larder_file` (file path)
 * and `__larder_row` (row number within the file), the as-of rule's last
 * tie-break.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { LarderError } from '../../src/core/errors.js';
import type { SourceDef } from '../../src/core/repo/types.js';
import { duckdbMessage, queryRows, sqlIdent, sqlString } from '../duckdb.js';
import { type ArrowFile, loadArrowIntoDuckDB, readArrowFile } from './arrow.js';
import { type SourceFormat, resolveSourceFiles } from './files.js';

export const FILE_COLUMN = '__larder_file';
export const ROW_COLUMN = '__larder_row';

export interface FileSchema {
  file: string;
  /** Column name -> DuckDB type name. */
  columns: Map<string, string>;
}

export interface OpenSource {
  def: SourceDef;
  format: SourceFormat;
  files: string[];
  /** Per data file, in file order. */
  fileSchemas: FileSchema[];
  /** The types the relation gives after combining files. */
  columns: Map<string, string>;
  /** A SQL FROM item (parenthesized subquery or table name). */
  relation: string;
}

let tableCounter = 0;

const readError = (configFile: string, source: SourceDef, file: string, msg: string) =>
  new LarderError('LARDER_ERR_SOURCE', `${configFile}: source "${source.name}": cannot read ${file}: ${msg}`);

async function describe(conn: DuckDBConnection, from: string): Promise<Map<string, string>> {
  const rows = await queryRows(conn, `DESCRIBE SELECT * FROM ${from}`);
  return new Map(rows.map((r) => [String(r.column_name), String(r.column_type)]));
}

const fileList = (files: string[]) => `[${files.map(sqlString).join(', ')}]`;

function parquetRelation(files: string[]): string {
  const opts = `filename = ${sqlString(FILE_COLUMN)}, file_row_number = true${files.length > 1 ? ', union_by_name = true' : ''}`;
  return `(SELECT * EXCLUDE (file_row_number), file_row_number AS ${ROW_COLUMN} FROM read_parquet(${fileList(files)}, ${opts}))`;
}

/**
 * One CSV file with its row numbers. WITH ORDINALITY numbers rows in the
 * file's order (DuckDB defines it as row_number() OVER () on the scan, which
 * keeps source order even when the reader runs in parallel); read_csv has no
 * file_row_number option.
 */
function csvFileRelation(file: string): string {
  return `SELECT * EXCLUDE (ordinality), ${sqlString(file)} AS ${FILE_COLUMN}, ordinality AS ${ROW_COLUMN} FROM read_csv(${sqlString(file)}) WITH ORDINALITY`;
}

const csvRelation = (files: string[]) => `(${files.map(csvFileRelation).join(' UNION ALL BY NAME ')})`;

async function openArrow(conn: DuckDBConnection, files: string[], source: SourceDef, configFile: string): Promise<{ fileSchemas: FileSchema[]; relation: string }> {
  const parts: string[] = [];
  const fileSchemas: FileSchema[] = [];
  for (const file of files) {
    let arrow: ArrowFile;
    try {
      arrow = await readArrowFile(file);
    } catch (e) {
      throw readError(configFile, source, file, (e as Error).message);
    }
    const table = `__larder_arrow_${++tableCounter}`;
    try {
      await loadArrowIntoDuckDB(conn, arrow, table);
    } catch (e) {
      throw readError(configFile, source, file, `cannot load its values: ${duckdbMessage(e)}`);
    }
    fileSchemas.push({ file, columns: arrow.columns });
    parts.push(`SELECT *, ${sqlString(file)} AS ${FILE_COLUMN} FROM ${sqlIdent(table)}`);
  }
  return { fileSchemas, relation: `(${parts.join(' UNION ALL BY NAME ')})` };
}

export async function openSource(conn: DuckDBConnection, repoDir: string, source: SourceDef, configFile: string): Promise<OpenSource> {
  const { files, format } = await resolveSourceFiles(conn, repoDir, source, configFile);
  let fileSchemas: FileSchema[];
  let relation: string;
  if (format === 'arrow') {
    ({ fileSchemas, relation } = await openArrow(conn, files, source, configFile));
  } else {
    fileSchemas = [];
    for (const file of files) {
      const from = format === 'parquet' ? `read_parquet(${sqlString(file)})` : `read_csv(${sqlString(file)})`;
      try {
        fileSchemas.push({ file, columns: await describe(conn, from) });
      } catch (e) {
        throw readError(configFile, source, file, duckdbMessage(e));
      }
    }
    relation = format === 'parquet' ? parquetRelation(files) : csvRelation(files);
  }
  let columns: Map<string, string>;
  try {
    columns = await describe(conn, relation);
  } catch (e) {
    throw new LarderError('LARDER_ERR_SOURCE', `${configFile}: source "${source.name}": cannot combine the files of ${source.path}: ${duckdbMessage(e)}`);
  }
  columns.delete(FILE_COLUMN);
  columns.delete(ROW_COLUMN);
  return { def: source, format, files, fileSchemas, columns, relation };
}
