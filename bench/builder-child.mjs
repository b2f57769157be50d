/**
 * The builder benchmark's timed work, each in a fresh process (spawned by
 * builder.mjs) so that one measurement does not inherit another's heap or
 * DuckDB caches. Prints one JSON line.
 *
 *   query <repo> <asOfIso>          DuckDB alone computing the as-of snapshot
 *                                   (bundle-builder's snapshotQueryTime)
 *   plainquery <repo> <asOfIso>     a minimal QUALIFY row_number() snapshot, for reference
 *   build <repo> <outDir> <asOfIso> the full build, bundle-builder's buildBundle
 */
import { DuckDBInstance } from '@duckdb/node-api';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { builderApi } from './lib/bundles.mjs';
import { snapshotSql } from './lib/reference-snapshot.mjs';

const [mode, repo, ...rest] = process.argv.slice(2);

/**
 * A minimal snapshot query, a reference beside the builder's statement (and
 * the baseline when bundle-builder does not export one): the latest visible
 * row per key (QUALIFY row_number), with every feature column, materialized
 * into a temporary table so that DuckDB must produce every value (a
 * count(*) would let it skip the columns).
 */
async function ownSnapshotQuery(asOf) {
  const cfg = JSON.parse(await readFile(join(repo, 'larder.config.json'), 'utf8'));
  const view = cfg.featureViews[0];
  const src = cfg.sources.find((s) => s.name === view.source);
  const joinKey = cfg.entities.find((e) => e.name === view.entities[0]).joinKeys[0];
  const sql = snapshotSql(join(repo, src.path), joinKey, src.timestampField, view.features.map((f) => f.name), asOf);
  const db = await DuckDBInstance.create(':memory:');
  const conn = await db.connect();
  try {
    const t0 = performance.now();
    await conn.run(`CREATE TEMP TABLE snapshot AS ${sql}`);
    const ms = performance.now() - t0;
    const rows = Number((await conn.runAndReadAll('SELECT count(*) AS n FROM snapshot')).getRowObjectsJS()[0].n);
    return { ms, rows, how: 'minimal query: CREATE TEMP TABLE AS SELECT key, ts, features WHERE ts <= as_of QUALIFY row_number() OVER (PARTITION BY key ORDER BY ts DESC) = 1', sql };
  } finally {
    conn.closeSync();
    db.closeSync();
  }
}

async function query(asOf) {
  const api = await builderApi();
  if (typeof api?.snapshotQueryTime !== 'function') return ownSnapshotQuery(asOf);
  const r = await api.snapshotQueryTime({ repoDir: repo, asOf });
  return { ms: r.seconds * 1000, rows: r.rows, view: r.view, how: "bundle-builder's snapshotQueryTime (the build's own snapshot statement, CREATE TEMP TABLE AS)" };
}

async function build(outDir, asOf) {
  const api = await builderApi();
  if (!api) throw new Error('bundle-builder has no buildBundle yet');
  const t0 = performance.now();
  const r = await api.buildBundle({ repoDir: repo, outDir, asOf });
  const ms = performance.now() - t0;
  // The manifest (definitions and statistics) is long and not a measurement.
  const { manifest, ...result } = r;
  return { ms, result, maxRssBytes: process.resourceUsage().maxRSS * 1024 };
}

let result;
if (mode === 'query') result = await query(new Date(rest[0]));
else if (mode === 'plainquery') result = await ownSnapshotQuery(new Date(rest[0]));
else if (mode === 'build') result = await build(rest[0], new Date(rest[1]));
else throw new Error(`unknown mode ${mode}`);
result.maxRssBytes ??= process.resourceUsage().maxRSS * 1024;
process.stdout.write(`${JSON.stringify(result)}\n`);
