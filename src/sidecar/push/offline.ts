/**
 * A push to offline: the rows become a new Parquet file that the view's
 * source reads, so the next build and training set see what was served.
 *
 * Where the file goes is named by the source's `path`: it must be a
 * Parquet glob whose directory part is plain and whose last part matches
 * the file name written, such as `data/driver_stats/*.parquet`. The file is
 *
 *   <that directory>/larder-push-<UTC time>-<random>.parquet
 *
 * written under a temporary name (which the glob does not match) and then
 * renamed, so a build never reads half a file. It holds the join keys, the
 * source's time columns and the pushed views' features; other columns of
 * the source read as null for its rows. A source whose path is one file or
 * not Parquet cannot take pushed rows, and such a push is refused (400)
 * before anything is written.
 *
 * Parquet is written by DuckDB, loaded only here, when a push to offline
 * arrives: a sidecar that takes none never loads it.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import type { Dtype, JoinKeyDtype } from '../../core/dtypes.js';
import { LarderError } from '../../core/errors.js';
import type { SourceDef } from '../../core/repo/types.js';
import type { PushColumn, PushPlan } from './plan.js';

const GLOB_CHARS = /[*?[\]{}]/;

/** The directory pushed files of `source` go to, or why the source cannot take them. */
export function pushDirectory(repoDir: string, source: SourceDef): { dir: string } | { problem: string } {
  const path = source.path.replace(/\\/g, '/');
  const slash = path.lastIndexOf('/');
  const dirPart = slash >= 0 ? path.slice(0, slash) : '.';
  const last = path.slice(slash + 1);
  const example = `${dirPart === '.' ? '' : `${dirPart}/`}*.parquet`;
  if (!/\.(parquet|pq)$/i.test(last)) return { problem: `source "${source.name}" (path "${source.path}") is not Parquet; pushed rows are written as Parquet files, so its path must be a Parquet glob such as "${example}"` };
  if (!GLOB_CHARS.test(last)) return { problem: `source "${source.name}" reads one file ("${source.path}"); to take pushed rows its path must be a glob such as "${example}" (move the file into that folder)` };
  if (GLOB_CHARS.test(dirPart)) return { problem: `source "${source.name}" (path "${source.path}"): the folder part of the path must be plain for pushed files to have one place to go` };
  if (/[[\]{}]/.test(last) || !globMatches(last, 'larder-push-20260101T000000000Z-00000000.parquet')) {
    return { problem: `source "${source.name}" (path "${source.path}"): pushed files are named larder-push-<time>-<id>.parquet, which "${last}" does not match; use a glob such as "${example}"` };
  }
  return { dir: isAbsolute(dirPart) ? dirPart : resolve(repoDir, dirPart) };
}

/** Whether a file name matches one path segment of a glob with * and ? only. */
function globMatches(glob: string, name: string): boolean {
  const re = glob.replace(/[.+^$()|\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]');
  return new RegExp(`^${re}$`).test(name);
}

const SQL_TYPES: Record<Dtype, string> = {
  int64: 'BIGINT', float32: 'FLOAT', float64: 'DOUBLE', string: 'VARCHAR', bool: 'BOOLEAN', timestamp: 'TIMESTAMP',
  'float32[]': 'FLOAT[]', 'string[]': 'VARCHAR[]', 'int64[]': 'BIGINT[]',
};
const KEY_TYPES: Record<JoinKeyDtype, string> = { int64: 'BIGINT', string: 'VARCHAR' };

/** The column's type in the file, and how a JSON value of it is read back (times travel as epoch ms). */
function columnSql(c: PushColumn): { jsonType: string; select: string } {
  const ident = `"${c.name.replaceAll('"', '""')}"`;
  if (c.kind === 'event' || c.kind === 'created') return { jsonType: 'BIGINT', select: `epoch_ms(${ident}) AS ${ident}` };
  if ('joinKey' in c.kind) return { jsonType: KEY_TYPES[c.kind.joinKey], select: ident };
  if (c.kind.feature === 'timestamp') return { jsonType: 'BIGINT', select: `epoch_ms(${ident}) AS ${ident}` };
  return { jsonType: SQL_TYPES[c.kind.feature], select: ident };
}

const sqlString = (s: string) => `'${s.replaceAll("'", "''")}'`;

function stamp(now: Date): string {
  return now.toISOString().replace(/[-:.]/g, '');
}

/** Writes the plan's rows as a new Parquet file the source reads; returns its path. */
export async function pushOffline(repoDir: string, plan: PushPlan, now = new Date()): Promise<string> {
  const where = pushDirectory(repoDir, plan.source);
  if ('problem' in where) throw new LarderError('LARDER_ERR_BAD_PUSH', where.problem);
  await mkdir(where.dir, { recursive: true });
  const name = `larder-push-${stamp(now)}-${randomBytes(4).toString('hex')}.parquet`;
  const path = join(where.dir, name);
  const tmpJson = join(where.dir, `.${name}.json.tmp`);
  const tmpParquet = join(where.dir, `.${name}.tmp`);
  // Rows as JSON lines, read back by DuckDB with the column types spelled out.
  const lines: string[] = [];
  for (let r = 0; r < plan.rows; r++) {
    const o: Record<string, unknown> = {};
    for (const c of plan.columns) o[c.name] = c.values[r] ?? null;
    lines.push(JSON.stringify(o));
  }
  const sql = plan.columns.map(columnSql);
  const columnsArg = `{${plan.columns.map((c, i) => `${sqlString(c.name)}: ${sqlString(sql[i]!.jsonType)}`).join(', ')}}`;
  const { DuckDBInstance } = await import('@duckdb/node-api');
  const instance = await DuckDBInstance.create(':memory:', { threads: '1' });
  const conn = await instance.connect();
  try {
    await writeFile(tmpJson, lines.join('\n') + '\n');
    await conn.run(`SET TimeZone = 'UTC'`);
    await conn.run(`COPY (SELECT ${sql.map((s) => s.select).join(', ')} FROM read_json(${sqlString(tmpJson)}, format = 'newline_delimited', columns = ${columnsArg})) TO ${sqlString(tmpParquet)} (FORMAT parquet)`);
    await rename(tmpParquet, path);
  } catch (e) {
    await rm(tmpParquet, { force: true });
    throw new LarderError('LARDER_ERR_SOURCE', `cannot write pushed rows to ${path}: ${(e as Error).message.split('\n')[0]}`, { cause: e });
  } finally {
    await rm(tmpJson, { force: true });
    conn.closeSync();
    instance.closeSync();
  }
  return path;
}
