/**
 * Test helpers: temp folders, real data files written by a real DuckDB
 * (Parquet, CSV) or by apache-arrow (Arrow IPC), and feature repo configs.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { type Table, tableToIPC } from 'apache-arrow';
import { afterAll, beforeAll } from 'vitest';

const dirs: string[] = [];

/** A fresh folder under the OS temp dir (outside the larder checkout). */
export async function tempDir(prefix = 'larder-bb-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
}

export async function removeTempDirs(): Promise<void> {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
}

/** A SQL literal for a test value (the column type is applied by INSERT). */
export function sqlLiteral(v: unknown): string {
  if (v === null || v === undefined) return 'NULL';
  if (typeof v === 'number' || typeof v === 'bigint') return String(v);
  if (typeof v === 'boolean') return v ? 'TRUE' : 'FALSE';
  if (typeof v === 'string') return `'${v.replaceAll("'", "''")}'`;
  if (v instanceof Date) return `'${v.toISOString().replace('T', ' ').replace('Z', '')}'`;
  if (Array.isArray(v)) return `[${v.map(sqlLiteral).join(', ')}]`;
  throw new Error(`sqlLiteral: unsupported ${typeof v}`);
}

let tableNo = 0;

/** Writes data files with one DuckDB kept for the whole test file. */
export class DataFiles {
  private constructor(private readonly instance: DuckDBInstance, readonly conn: DuckDBConnection) {}

  static async open(): Promise<DataFiles> {
    const instance = await DuckDBInstance.create(':memory:', { threads: '1' });
    const conn = await instance.connect();
    await conn.run(`SET TimeZone = 'UTC'`);
    return new DataFiles(instance, conn);
  }

  close(): void {
    this.conn.closeSync();
    this.instance.closeSync();
  }

  /**
   * Writes `rows` (arrays in `schema` order) to `file` as Parquet or CSV,
   * in the given row order. `schema` maps column name -> DuckDB type.
   */
  async write(file: string, schema: Record<string, string>, rows: unknown[][], format: 'parquet' | 'csv' = file.endsWith('.csv') ? 'csv' : 'parquet'): Promise<void> {
    await mkdir(dirname(file), { recursive: true });
    const table = `t${++tableNo}`;
    const cols = Object.entries(schema).map(([n, t]) => `"${n}" ${t}`);
    await this.conn.run(`CREATE TEMP TABLE ${table} (${cols.join(', ')})`);
    if (rows.length > 0) {
      await this.conn.run(`INSERT INTO ${table} VALUES ${rows.map((r) => `(${r.map(sqlLiteral).join(', ')})`).join(', ')}`);
    }
    const opts = format === 'parquet' ? '(FORMAT parquet)' : '(FORMAT csv, HEADER true)';
    await this.conn.run(`COPY (SELECT * FROM ${table} ORDER BY rowid) TO '${file.replaceAll("'", "''")}' ${opts}`);
    await this.conn.run(`DROP TABLE ${table}`);
  }
}

export async function writeArrow(file: string, table: Table): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, tableToIPC(table, 'file'));
}

/** Writes a repo config: JSON, or a TypeScript/ESM module importing defineRepo from 'larder-features'. */
export async function writeConfig(dir: string, repo: unknown, format: 'json' | 'ts' | 'mjs' = 'json'): Promise<string> {
  await mkdir(dir, { recursive: true });
  if (format === 'json') {
    const file = join(dir, 'larder.config.json');
    await writeFile(file, JSON.stringify(repo, null, 2));
    return file;
  }
  const file = join(dir, `larder.config.${format}`);
  await writeFile(file, `import { defineRepo } from 'larder-features';\n\nexport default defineRepo(${JSON.stringify(repo, null, 2)});\n`);
  return file;
}

/** Feast's timestamp text for epoch ms, written independently of src/core/time.ts. */
export function feastTime(ms: number): string {
  const iso = new Date(ms).toISOString();
  return iso.endsWith('.000Z') ? `${iso.slice(0, -5)}Z` : iso;
}

/**
 * One DataFiles for a test file: opened before its tests, closed (with the
 * temp dirs removed) after them.
 */
export function useDataFiles(): Pick<DataFiles, 'write' | 'conn'> {
  let files: DataFiles | undefined;
  beforeAll(async () => {
    files = await DataFiles.open();
  });
  afterAll(async () => {
    files?.close();
    await removeTempDirs();
  });
  return {
    write: (...args) => files!.write(...args),
    get conn() {
      return files!.conn;
    },
  };
}

/**
 * A repo of one view, driver_stats (a float64 rating per driver_id, TTL 0),
 * over `rows` of [driver_id, event_ts, rating] in data/drivers.parquet.
 */
export async function writeDriverRepo(data: Pick<DataFiles, 'write'>, dir: string, project: string, rows: unknown[][]): Promise<void> {
  await data.write(join(dir, 'data', 'drivers.parquet'), { driver_id: 'BIGINT', event_ts: 'TIMESTAMP', rating: 'DOUBLE' }, rows);
  await writeConfig(dir, {
    project,
    entities: [{ name: 'driver', joinKeys: ['driver_id'] }],
    sources: [{ name: 'drivers', path: 'data/*.parquet', timestampField: 'event_ts' }],
    featureViews: [{ name: 'driver_stats', entities: ['driver'], source: 'drivers', ttlSeconds: 0, features: [{ name: 'rating', dtype: 'float64' }] }],
  });
}
