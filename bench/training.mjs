/**
 * Issue 11's training-set benchmark: `larder training` (buildTrainingSet)
 * against DuckDB's own ASOF join query on the same files, in the same run.
 *
 *   data      3 views (3 features each: DOUBLE, BIGINT, VARCHAR) over
 *             10,000,000 source rows in all, an entities file of 1,000,000
 *             rows (user, time, label); Parquet, written once to bench/.data/.
 *             Event times are distinct within a view, so the plain ASOF join
 *             has no ties to break and both answers can be compared.
 *   baseline  COPY (entities ASOF LEFT JOIN each view ON key AND time >= time,
 *             in input order) TO Parquet, in a fresh DuckDB: what one would
 *             write by hand, without the TTL, defaults, created-time and
 *             source-position tie-break that larder adds.
 *   larder    buildTrainingSet to Parquet, the same threads.
 *   check     larder's values equal the baseline's wherever the baseline's
 *             row is within the TTL, and are null elsewhere (no defaults).
 * Rounds alternate baseline and larder. Target: larder <= 1.5x baseline.
 *
 * --ties writes event times rounded to the minute instead, so keys have
 * several rows at one event time: larder then orders rows by the rule's
 * whole ordering (event, created, file, row), which DuckDB's plain ASOF join
 * does not (it takes any of the tied rows), and the check is skipped.
 *
 *   node bench/training.mjs [--quick] [--ties]   (after `npx tsc -p tsconfig.json`)
 */
import { existsSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DuckDBInstance } from '@duckdb/node-api';
import { buildTrainingSet } from '../dist/bundle-builder/training.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const quick = process.argv.includes('--quick');
const ties = process.argv.includes('--ties');
const SIZE = quick ? { entities: 100_000, featureRows: 1_000_000, users: 50_000, rounds: 3 } : { entities: 1_000_000, featureRows: 10_000_000, users: 500_000, rounds: 5 };
const VIEWS = 3;
const TTL_DAYS = 14;
const SPAN_SECONDS = 90 * 86_400;
const T0_MS = Date.UTC(2025, 0, 1);
const DATA = join(ROOT, 'bench', '.data', `training-${SIZE.entities}-${SIZE.featureRows}${ties ? '-ties' : ''}`);
const RESULT = join(ROOT, 'bench', 'results', `training${ties ? '-ties' : ''}${quick ? '-quick' : ''}.md`);

async function duck() {
  const instance = await DuckDBInstance.create(':memory:');
  const conn = await instance.connect();
  await conn.run(`SET TimeZone = 'UTC'`);
  return { conn, close: () => (conn.closeSync(), instance.closeSync()) };
}

const rowsPerView = Math.ceil(SIZE.featureRows / VIEWS);
/** A prime coprime with the row count: i -> (i * P) mod n is a permutation, so event times are distinct. */
const P = 1_000_003;

async function writeData() {
  if (existsSync(join(DATA, 'larder.config.json'))) return false;
  await mkdir(join(DATA, 'data'), { recursive: true });
  const db = await duck();
  try {
    for (let v = 0; v < VIEWS; v++) {
      // Event times: distinct seconds spread over SPAN_SECONDS; created a minute later.
      const distinct = `(${T0_MS}::BIGINT + ((i * ${P} + ${v}) % ${rowsPerView})::BIGINT * ${Math.floor((SPAN_SECONDS / rowsPerView) * 1000)})`;
      const at = ties ? `(${distinct} // 60000 * 60000)` : distinct;
      await db.conn.run(`COPY (SELECT (hash(i, ${v}) % ${SIZE.users})::BIGINT AS user_id, make_timestamp(${at} * 1000) AS event_timestamp,
        make_timestamp((${at} + 60000) * 1000) AS created, (hash(i, ${v} + 10) % 10000) / 100.0 AS a${v}, (hash(i, ${v} + 20) % 1000)::BIGINT AS b${v},
        'c' || (hash(i, ${v} + 30) % 50)::VARCHAR AS c${v}
        FROM range(${rowsPerView}) t(i)) TO '${join(DATA, 'data', `v${v}.parquet`)}' (FORMAT parquet)`);
    }
    await db.conn.run(`COPY (SELECT (hash(i, 99) % ${SIZE.users})::BIGINT AS user_id,
      make_timestamp((${T0_MS}::BIGINT + (hash(i, 98) % ${SPAN_SECONDS * 1000})::BIGINT) * 1000) AS event_timestamp, (hash(i, 97) % 2 = 0) AS label
      FROM range(${SIZE.entities}) t(i)) TO '${join(DATA, 'entities.parquet')}' (FORMAT parquet)`);
  } finally {
    db.close();
  }
  const views = Array.from({ length: VIEWS }, (_, v) => ({
    name: `v${v}`, entities: ['user'], source: `s${v}`, ttlSeconds: TTL_DAYS * 86_400,
    features: [{ name: `a${v}`, dtype: 'float64' }, { name: `b${v}`, dtype: 'int64' }, { name: `c${v}`, dtype: 'string' }],
  }));
  await writeFile(join(DATA, 'larder.config.json'), JSON.stringify({
    project: 'benchtrain',
    entities: [{ name: 'user', joinKeys: ['user_id'] }],
    sources: views.map((_, v) => ({ name: `s${v}`, path: `data/v${v}.parquet`, timestampField: 'event_timestamp', createdTimestampField: 'created' })),
    featureViews: views,
  }, null, 2));
  return true;
}

const FEATURES = Array.from({ length: VIEWS }, (_, v) => [`a${v}`, `b${v}`, `c${v}`].map((f) => `v${v}:${f}`)).flat();

/** DuckDB's own ASOF join, by hand, timed from opening the database to the file written. */
async function baseline(out) {
  const t = performance.now();
  const cpu = process.cpuUsage();
  const db = await duck();
  try {
    const cols = Array.from({ length: VIEWS }, (_, v) => `v${v}.a${v}, v${v}.b${v}, v${v}.c${v}, v${v}.event_timestamp AS ts${v}`).join(', ');
    const joins = Array.from({ length: VIEWS }, (_, v) =>
      `ASOF LEFT JOIN read_parquet('${join(DATA, 'data', `v${v}.parquet`)}') v${v} ON e.user_id = v${v}.user_id AND e.event_timestamp >= v${v}.event_timestamp`).join('\n');
    await db.conn.run(`COPY (SELECT e.* EXCLUDE (file_row_number), ${cols}
      FROM read_parquet('${join(DATA, 'entities.parquet')}', file_row_number = true) e ${joins}
      ORDER BY e.file_row_number) TO '${out}' (FORMAT parquet)`);
  } finally {
    db.close();
  }
  return { seconds: (performance.now() - t) / 1000, cpu: cpuSeconds(cpu) };
}

/** CPU seconds (user + system, every thread of this process) since `from`: DuckDB runs its threads here. */
const cpuSeconds = (from) => {
  const u = process.cpuUsage(from);
  return (u.user + u.system) / 1e6;
};

async function larder(out) {
  const t = performance.now();
  const cpu = process.cpuUsage();
  const result = await buildTrainingSet({ repoDir: DATA, entitiesFile: join(DATA, 'entities.parquet'), features: FEATURES, outFile: out });
  return { seconds: (performance.now() - t) / 1000, cpu: cpuSeconds(cpu), result };
}

/** Rows where larder's value differs from the baseline's within the TTL (or is not null outside it). */
async function check(larderOut, baselineOut) {
  const db = await duck();
  try {
    const ttlMs = TTL_DAYS * 86_400_000;
    const conds = Array.from({ length: VIEWS }, (_, v) => {
      const fresh = `b.ts${v} IS NOT NULL AND epoch_ms(b.event_timestamp) - epoch_ms(b.ts${v}) <= ${ttlMs}`;
      return [`a${v}`, `b${v}`, `c${v}`].map((f) => `l.${f} IS DISTINCT FROM (CASE WHEN ${fresh} THEN b.${f} END)`).join(' OR ');
    }).join(' OR ');
    const q = `SELECT count(*) AS rows, count(*) FILTER (WHERE ${conds} OR l.user_id IS DISTINCT FROM b.user_id OR l.label IS DISTINCT FROM b.label) AS differ
      FROM (SELECT *, row_number() OVER () AS r FROM read_parquet('${larderOut}')) l JOIN (SELECT *, row_number() OVER () AS r FROM read_parquet('${baselineOut}')) b USING (r)`;
    const [row] = (await db.conn.runAndReadAll(q)).getRowObjectsJS();
    return { rows: Number(row.rows), differ: Number(row.differ) };
  } finally {
    db.close();
  }
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (n) => n.toLocaleString('en-US');

async function main() {
  const loadBefore = os.loadavg().map((x) => x.toFixed(2)).join(', ');
  const tGen = performance.now();
  const generated = await writeData();
  const genSeconds = (performance.now() - tGen) / 1000;
  console.error(`data in ${DATA}${generated ? ` (written in ${genSeconds.toFixed(1)} s)` : ' (reused)'}`);
  const out = join(DATA, 'out');
  await mkdir(out, { recursive: true });
  const base = [];
  const ours = [];
  let last;
  for (let r = 0; r < SIZE.rounds; r++) {
    // Alternate which goes first, so that noise from other work falls on both.
    const order = r % 2 === 0 ? ['baseline', 'larder'] : ['larder', 'baseline'];
    for (const which of order) {
      if (which === 'baseline') base.push(await baseline(join(out, 'baseline.parquet')));
      else {
        last = await larder(join(out, 'larder.parquet'));
        ours.push(last);
      }
      const m = which === 'baseline' ? base.at(-1) : ours.at(-1);
      console.error(`round ${r + 1}: ${which} ${m.seconds.toFixed(2)} s, CPU ${m.cpu.toFixed(2)} s`);
    }
  }
  const verdict = ties ? undefined : await check(join(out, 'larder.parquet'), join(out, 'baseline.parquet'));
  const wall = (xs) => median(xs.map((x) => x.seconds));
  const cpu = (xs) => median(xs.map((x) => x.cpu));
  const ratio = wall(ours) / wall(base);
  const cpuRatio = cpu(ours) / cpu(base);
  const pass = ratio <= 1.5;
  const t = last.result.timings;
  const loadAfter = os.loadavg().map((x) => x.toFixed(2)).join(', ');
  const md = `# Training-set benchmark (issue 11)${ties ? ', tied event times' : ''}

## Machine and run

- Date: ${new Date().toISOString()}
- Command: \`node bench/training.mjs${quick ? ' --quick' : ''}\`
- CPU: ${os.cpus()[0]?.model.trim()}, ${os.cpus().length} cores (shared with other work during the run; see load)
- Node ${process.version}, ${os.type()} ${os.release()} ${os.arch()}, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB RAM
- Load average (1, 5, 15 min) before: ${loadBefore}; after: ${loadAfter}

## Setup

- Entities: ${fmt(SIZE.entities)} rows (user_id, event_timestamp, label) in one Parquet file.
- Features: ${VIEWS} views x 3 features (DOUBLE, BIGINT, VARCHAR), ${fmt(rowsPerView * VIEWS)} source rows in all (${fmt(rowsPerView)} per view, ${fmt(SIZE.users)} users, 90 days), Parquet, with a created timestamp; TTL ${TTL_DAYS} days; no defaults. ${ties ? 'Event times rounded to the minute: keys have several rows at one event time, so larder joins on the rule\'s whole ordering.' : 'Event times are distinct within a view (no key has two rows at one time), so larder joins on the event time alone after checking that.'}
- Baseline: DuckDB's ASOF LEFT JOIN of the entities with each view's file on (user_id, event_timestamp >=), in input order, COPY to Parquet, in a fresh in-memory DuckDB (all cores).
- larder: \`buildTrainingSet\` (what \`larder training\` runs) to Parquet: config, schema checks, the join on the rule's full ordering (event, created, file, row), TTL and holes, status counts, write.
- ${SIZE.rounds} rounds, baseline and larder alternating; medians below.

## Result

| | seconds (median) | rounds | CPU seconds (median) | rounds |
| --- | --- | --- | --- | --- |
| DuckDB ASOF join (baseline) | ${wall(base).toFixed(2)} | ${base.map((x) => x.seconds.toFixed(2)).join(', ')} | ${cpu(base).toFixed(2)} | ${base.map((x) => x.cpu.toFixed(2)).join(', ')} |
| larder training | ${wall(ours).toFixed(2)} | ${ours.map((x) => x.seconds.toFixed(2)).join(', ')} | ${cpu(ours).toFixed(2)} | ${ours.map((x) => x.cpu.toFixed(2)).join(', ')} |

CPU seconds are user + system time of every thread of the bench process (DuckDB's threads run in it), which other work on the shared machine does not inflate the way it inflates wall time.

| target | measured | result |
| --- | --- | --- |
| larder <= 1.5x DuckDB's own ASOF join (wall time) | ${ratio.toFixed(2)}x (CPU time: ${cpuRatio.toFixed(2)}x) | **${pass ? 'PASS' : 'FAIL'}** |
${verdict ? `| larder's values equal the baseline's within the TTL, null outside it | ${fmt(verdict.differ)} of ${fmt(verdict.rows)} rows differ | **${verdict.differ === 0 && verdict.rows === SIZE.entities ? 'PASS' : 'FAIL'}** |` : '| (values not compared: with tied event times the baseline takes any of the tied rows) | | |'}

larder's last run: read ${t.readSeconds.toFixed(2)} s, join ${t.joinSeconds.toFixed(2)} s, write ${t.writeSeconds.toFixed(2)} s; per view (present / outside max age / not found): ${last.result.views.map((v) => `${v.name} ${fmt(v.present)} / ${fmt(v.outsideMaxAge)} / ${fmt(v.notFound)}`).join('; ')}.
`;
  await mkdir(join(ROOT, 'bench', 'results'), { recursive: true });
  await writeFile(RESULT, md);
  await rm(out, { recursive: true, force: true });
  console.log(md);
}

await main();
