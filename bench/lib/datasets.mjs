/**
 * Generated feature repos for the benchmarks, written by DuckDB straight to
 * Parquet (one COPY each) under bench/.data/, and reused while their
 * parameters are unchanged (a `dataset.json` beside the repo records them).
 *
 * Values are deterministic functions of the source row number (DuckDB's
 * hash), so every run of a given size reads the same data.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';

/** Bumped whenever the generated data or repo definitions change. */
const GENERATOR_VERSION = 1;

/** 2025-01-01T00:00:00Z: the first event time of the generated data. */
export const BASE_MS = Date.UTC(2025, 0, 1);
const HOUR_MS = 3_600_000;

/**
 * The 20 features of the builder benchmark: name, larder dtype, and the SQL
 * producing the value of source row `i` (h(k) is a per-feature hash of i).
 * A few are NULL in about 1% of rows.
 */
const USER_FEATURES_20 = [
  ['clicks_7d', 'int64', 'h(1) % 5000'],
  ['views_7d', 'int64', 'h(2) % 100000'],
  ['purchases_30d', 'int64', 'CASE WHEN h(3) % 100 = 0 THEN NULL ELSE h(3) % 40 END'],
  ['sessions_30d', 'int64', 'h(4) % 300'],
  ['cart_adds_7d', 'int64', 'h(5) % 60'],
  ['account_age_days', 'int64', 'h(6) % 4000'],
  ['ctr_7d', 'float32', '(h(7) % 10000) / 10000.0'],
  ['conversion_rate_30d', 'float32', 'CASE WHEN h(8) % 100 = 0 THEN NULL ELSE (h(8) % 1000) / 1000.0 END'],
  ['avg_dwell_seconds', 'float32', '(h(9) % 60000) / 100.0'],
  ['bounce_rate', 'float32', '(h(10) % 1000) / 1000.0'],
  ['spend_30d', 'float64', '(h(11) % 1000000) / 100.0'],
  ['spend_90d', 'float64', '(h(12) % 3000000) / 100.0'],
  ['lifetime_value', 'float64', 'CASE WHEN h(13) % 100 = 0 THEN NULL ELSE (h(13) % 10000000) / 100.0 END'],
  ['avg_order_value', 'float64', '(h(14) % 50000) / 100.0'],
  ['recency_score', 'float64', '(h(15) % 1000000) / 1000000.0'],
  ['churn_score', 'float64', '(h(16) % 1000000) / 1000000.0'],
  ['segment', 'string', "'segment_' || (h(17) % 40)"],
  ['country', 'string', "['US','GB','DE','FR','IN','BR','JP','CA','AU','ES','IT','NL'][1 + h(18) % 12]"],
  ['device', 'string', "CASE WHEN h(19) % 100 = 0 THEN NULL ELSE ['ios','android','web','tv'][1 + h(19) % 4] END"],
  ['last_category', 'string', "'category/' || (h(20) % 500) || '/items'"],
];

const SQL_TYPE = { int64: 'BIGINT', float32: 'FLOAT', float64: 'DOUBLE', string: 'VARCHAR' };

/** 50 features for the serving benchmark: the 20 above plus 30 numbers of each kind. */
function userFeatures50() {
  const extra = [];
  for (let k = 0; k < 30; k++) {
    const dtype = ['int64', 'float32', 'float64'][k % 3];
    const h = `h(${21 + k})`;
    const sql = dtype === 'int64' ? `${h} % 100000` : `(${h} % 1000000) / 1000.0`;
    extra.push([`metric_${String(k).padStart(2, '0')}`, dtype, sql]);
  }
  return [...USER_FEATURES_20, ...extra];
}

function selectList(features) {
  // h(k): a hash of the row number and the feature number, as BIGINT.
  const h = (sql) => sql.replace(/h\((\d+)\)/g, (_, k) => `(hash(i, ${k}) >> 1)::BIGINT`);
  return features.map(([name, dtype, sql]) => `CAST(${h(sql)} AS ${SQL_TYPE[dtype]}) AS ${name}`).join(',\n  ');
}

async function withDuckDB(fn) {
  // One thread: the machine is shared, and generation is a one-off.
  const db = await DuckDBInstance.create(':memory:', { threads: '1' });
  const conn = await db.connect();
  try {
    return await fn(conn);
  } finally {
    conn.closeSync();
    db.closeSync();
  }
}

const sqlString = (s) => `'${s.replaceAll("'", "''")}'`;

async function isCurrent(dir, params) {
  const file = join(dir, 'dataset.json');
  if (!existsSync(file)) return false;
  try {
    return JSON.stringify(JSON.parse(await readFile(file, 'utf8')).params) === JSON.stringify(params);
  } catch {
    return false;
  }
}

/**
 * The builder benchmark's repo: `keys` users, `rowsPerKey` source rows each
 * (event times one hour apart plus up to an hour of jitter), one view of
 * 20 features. `asOf` falls halfway through the second-to-last hour, so the
 * snapshot discards later rows and picks among several earlier ones.
 */
export async function builderDataset(root, { keys, rowsPerKey }, log) {
  const params = { generator: GENERATOR_VERSION, kind: 'builder', keys, rowsPerKey };
  const dir = join(root, `builder-${keys}x${rowsPerKey}`);
  const repo = join(dir, 'repo');
  const asOf = new Date(BASE_MS + (rowsPerKey - 2) * HOUR_MS + HOUR_MS / 2);
  const info = { dir, repo, asOf, keys, rows: keys * rowsPerKey, view: 'user_activity', features: USER_FEATURES_20.map(([n, d]) => ({ name: n, dtype: d })) };
  if (await isCurrent(dir, params)) {
    log(`reusing generated data in ${dir}`);
    return { ...info, generatedMs: null };
  }
  await rm(dir, { recursive: true, force: true });
  await mkdir(join(repo, 'data'), { recursive: true });
  const parquet = join(repo, 'data', 'user_activity.parquet');
  const rows = keys * rowsPerKey;
  log(`generating ${rows.toLocaleString()} source rows (${keys.toLocaleString()} keys) with DuckDB ...`);
  const t0 = performance.now();
  await withDuckDB((conn) => conn.run(`
    COPY (
      SELECT
        i % ${keys} AS user_id,
        make_timestamp(((${BASE_MS} + (i // ${keys}) * ${HOUR_MS} + (hash(i, 0) % ${HOUR_MS})) * 1000)::BIGINT) AS event_ts,
        ${selectList(USER_FEATURES_20)}
      FROM range(${rows}) t(i)
    ) TO ${sqlString(parquet)} (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 1000000)`));
  const generatedMs = performance.now() - t0;
  await writeFile(join(repo, 'larder.config.json'), JSON.stringify({
    project: 'benchshop',
    entities: [{ name: 'user', joinKeys: ['user_id'], description: 'A shopper' }],
    sources: [{ name: 'user_activity_source', path: 'data/*.parquet', timestampField: 'event_ts' }],
    featureViews: [{
      name: info.view,
      entities: ['user'],
      source: 'user_activity_source',
      ttlSeconds: 0,
      owner: 'bench',
      description: 'Generated activity features (20: int64, float32, float64, string; some nulls)',
      features: info.features,
    }],
    featureServices: [],
  }, null, 2));
  await writeFile(join(dir, 'dataset.json'), JSON.stringify({ params, generatedMs, asOf: asOf.toISOString() }, null, 2));
  log(`generated in ${(generatedMs / 1000).toFixed(1)} s`);
  return { ...info, generatedMs };
}

/** Dimensions of the serving benchmark's embedding (a float32[] feature). */
const EMBEDDING_DIMS = 4;

/** The serving view with an embedding: four scalars of different kinds and a float32[4]. */
const FEATURES_5E = ['clicks_7d', 'ctr_7d', 'spend_30d', 'segment', 'embedding'];

/**
 * The serving benchmark's repo: `keys` users (user_id 0 .. keys-1), one
 * source row each, 50 scalar features and a float32[4] `embedding`; view
 * `user_20` serves the first 20, `user_50` all 50 scalars and `user_5e`
 * the five of FEATURES_5E (all read the same Parquet file).
 */
export async function servingDataset(root, { keys }, log) {
  const params = { generator: GENERATOR_VERSION, kind: 'serving', keys, embeddingDims: EMBEDDING_DIMS };
  const dir = join(root, `serving-${keys}`);
  const repo = join(dir, 'repo');
  const features50 = userFeatures50();
  const info = {
    dir, repo, keys,
    // Keyed by the name of the case's view in bench/lib/cases.mjs.
    views: { 20: 'user_20', 50: 'user_50', '5e': 'user_5e' },
    features: { 20: features50.slice(0, 20).map(([n]) => n), 50: features50.map(([n]) => n), '5e': FEATURES_5E },
    joinKey: 'user_id',
  };
  if (await isCurrent(dir, params)) {
    log(`reusing generated data in ${dir}`);
    return info;
  }
  await rm(dir, { recursive: true, force: true });
  await mkdir(join(repo, 'data'), { recursive: true });
  const parquet = join(repo, 'data', 'user_profile.parquet');
  log(`generating ${keys.toLocaleString()} rows x 50 features + a float32[${EMBEDDING_DIMS}] embedding with DuckDB ...`);
  const t0 = performance.now();
  await withDuckDB((conn) => conn.run(`
    COPY (
      SELECT
        i AS user_id,
        make_timestamp(((${BASE_MS} + (hash(i, 0) % ${HOUR_MS})) * 1000)::BIGINT) AS event_ts,
        ${selectList(features50)},
        list_transform(range(${EMBEDDING_DIMS}), j -> ((((hash(i, 100 + j) >> 1) % 2000) / 1000.0) - 1)::FLOAT) AS embedding
      FROM range(${keys}) t(i)
    ) TO ${sqlString(parquet)} (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 1000000)`));
  const generatedMs = performance.now() - t0;
  const dtypes = { ...Object.fromEntries(features50.map(([n, d]) => [n, d])), embedding: 'float32[]' };
  const view = (name, names) => ({
    name,
    entities: ['user'],
    source: 'user_profile_source',
    ttlSeconds: 0,
    owner: 'bench',
    features: names.map((n) => ({ name: n, dtype: dtypes[n] })),
  });
  await writeFile(join(repo, 'larder.config.json'), JSON.stringify({
    project: 'benchserve',
    entities: [{ name: 'user', joinKeys: ['user_id'] }],
    sources: [{ name: 'user_profile_source', path: 'data/*.parquet', timestampField: 'event_ts' }],
    featureViews: Object.keys(info.views).map((k) => view(info.views[k], info.features[k])),
    featureServices: [],
  }, null, 2));
  await writeFile(join(dir, 'dataset.json'), JSON.stringify({ params, generatedMs }, null, 2));
  log(`generated in ${(generatedMs / 1000).toFixed(1)} s`);
  return info;
}
