/**
 * A stand-in builder for when bundle-builder's API is missing: takes the
 * as-of snapshot of each online view with one DuckDB query (QUALIFY
 * row_number) and writes the bundle with src/core's encodeBundle, the same
 * writer the builder uses. Only for single int64 join-key repos made by
 * datasets.mjs, with no created timestamp; results say when it was used.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { encodeBundle } from '../../dist/src/core/bundle/encode.js';
import { bundleFileName } from '../../dist/src/core/bundle/format.js';

const sqlString = (s) => `'${s.replaceAll("'", "''")}'`;
const ident = (s) => `"${s.replaceAll('"', '""')}"`;

/** The as-of snapshot query: per key, the latest row with event_ts <= asOf. */
export function snapshotSql(parquetGlob, joinKey, tsField, columns, asOf) {
  const select = columns.map(ident).join(', ');
  return `SELECT ${ident(joinKey)}, ${ident(tsField)}, ${select}
    FROM read_parquet(${sqlString(parquetGlob)})
    WHERE ${ident(tsField)} <= ${sqlString(asOf.toISOString().replace('T', ' ').replace('Z', ''))}::TIMESTAMP
    QUALIFY row_number() OVER (PARTITION BY ${ident(joinKey)} ORDER BY ${ident(tsField)} DESC) = 1`;
}

export async function directBundle(repoDir, outDir, asOf, { version = 1 } = {}) {
  const repo = JSON.parse(await readFile(join(repoDir, 'larder.config.json'), 'utf8'));
  const db = await DuckDBInstance.create(':memory:');
  const conn = await db.connect();
  const views = [];
  try {
    for (const v of repo.featureViews) {
      const src = repo.sources.find((s) => s.name === v.source);
      const entity = repo.entities.find((e) => e.name === v.entities[0]);
      const joinKey = entity.joinKeys[0];
      const cols = v.features.map((f) => f.name);
      const inner = snapshotSql(join(repoDir, src.path), joinKey, src.timestampField, cols, asOf);
      const sql = `SELECT CAST(${ident(joinKey)} AS VARCHAR) AS __key, epoch_ms(${ident(src.timestampField)})::DOUBLE AS __ts, ${v.features
        .map((f) => (f.dtype === 'int64' ? `${ident(f.name)}::DOUBLE AS ${ident(f.name)}` : ident(f.name)))
        .join(', ')} FROM (${inner}) ORDER BY ${ident(joinKey)}`;
      const cols0 = (await conn.runAndReadAll(sql)).getColumnsObjectJS();
      views.push({
        name: v.name,
        joinKeys: [{ name: joinKey, dtype: 'int64' }],
        keys: cols0.__key,
        eventTsMs: cols0.__ts,
        columns: Object.fromEntries(cols.map((c) => [c, cols0[c]])),
      });
    }
  } finally {
    conn.closeSync();
    db.closeSync();
  }
  const bytes = await encodeBundle({ project: repo.project, version, parentVersion: null, createdAt: new Date(), asOf, repo, views });
  await mkdir(outDir, { recursive: true });
  const path = join(outDir, bundleFileName(repo.project, version));
  await writeFile(path, bytes);
  return { path, bytes: bytes.length };
}
