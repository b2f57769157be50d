/**
 * A source's `path` (relative to the repo, maybe a glob) -> the data files it
 * names, sorted by path, and their format, detected by file extension.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { isAbsolute, resolve } from 'node:path';
import { LarderError } from '../../src/core/errors.js';
import type { SourceDef } from '../../src/core/repo/types.js';
import { duckdbMessage, queryRows, sqlString } from '../duckdb.js';

export type SourceFormat = 'parquet' | 'csv' | 'arrow';

const EXTENSIONS: [RegExp, SourceFormat][] = [
  [/\.(parquet|pq)$/i, 'parquet'],
  [/\.(csv|tsv)(\.gz|\.zst)?$/i, 'csv'],
  [/\.(arrow|feather|ipc)$/i, 'arrow'],
];

export const KNOWN_EXTENSIONS = '.parquet, .pq, .csv, .tsv (optionally .gz/.zst), .arrow, .feather, .ipc';

export function formatOf(file: string): SourceFormat | undefined {
  return EXTENSIONS.find(([re]) => re.test(file))?.[1];
}

export interface SourceFiles {
  /** Absolute pattern as given to DuckDB. */
  pattern: string;
  files: string[];
  format: SourceFormat;
}

const sourceError = (configFile: string, source: SourceDef, msg: string) =>
  new LarderError('LARDER_ERR_SOURCE', `${configFile}: source "${source.name}" (path "${source.path}"): ${msg}`);

/** Expands the source's path with DuckDB's glob (the same matcher its readers use). */
export async function resolveSourceFiles(
  conn: DuckDBConnection,
  repoDir: string,
  source: SourceDef,
  configFile: string,
): Promise<SourceFiles> {
  const pattern = isAbsolute(source.path) ? source.path : resolve(repoDir, source.path);
  let files: string[];
  try {
    const rows = await queryRows(conn, `SELECT file FROM glob(${sqlString(pattern)}) ORDER BY file`);
    files = rows.map((r) => String(r.file));
  } catch (e) {
    throw sourceError(configFile, source, `cannot list ${pattern}: ${duckdbMessage(e)}`);
  }
  if (files.length === 0) {
    const what = /[*?[{]/.test(source.path) ? `no file matches ${pattern}` : `file not found: ${pattern}`;
    throw sourceError(configFile, source, what);
  }
  const formats = new Set<SourceFormat>();
  for (const f of files) {
    const format = formatOf(f);
    if (!format) throw sourceError(configFile, source, `cannot tell the format of ${f} from its extension (known: ${KNOWN_EXTENSIONS})`);
    formats.add(format);
  }
  if (formats.size > 1) {
    throw sourceError(configFile, source, `matches files of several formats (${[...formats].join(', ')}); one source must hold one format`);
  }
  return { pattern, files, format: [...formats][0]! };
}
