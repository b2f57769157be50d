/**
 * `node bench/redis.mjs [--quick] [--only materialize]` (after
 * `npx tsc -p tsconfig.json`): the Redis online store (issue 10), each
 * figure against a baseline measured in the same run. Writes
 * bench/results/redis.md (redis-quick.md with --quick). `--only
 * materialize` runs section 3 alone and prints it without writing a file,
 * so the results file always holds every section.
 *
 *   1. cold read: a sidecar with no bundle keys and no LRU, 1 entity x 20
 *      features, sequential requests, against a direct ioredis MGET of the
 *      same Redis keys: the sidecar adds at most 100 µs at p50;
 *   2. requests/s per core of a sidecar reading only through Redis (no
 *      bundle keys, no LRU, as a Feast-style server works) against a
 *      sidecar with the bundle and LRU, on the same keys: at least 3x;
 *
 *   For reference in 1 and 2, a bare node:http server (bench/bare-server.mjs)
 *   answering the same bytes: the floor of any node:http server, so what a
 *   bundle path that cost nothing beyond node:http would reach.
 *   3. materialize, keys/s of 20 features to a local Redis: at least
 *      200,000; against direct ioredis writes of the same values.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DuckDBInstance } from '@duckdb/node-api';
import { DISTURBED_PCT, LOAD_CORE, SERVER_CORE, pinProcess } from './lib/pinning.mjs';
import { cpuMsOf } from './lib/proc-cpu.mjs';
import { percentile, rawClient, sampleAnswer, startBare, startRedis, startSidecar } from './lib/redis-tools.mjs';
import { runWrk, sidecarTools } from './lib/wrk.mjs';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const quick = process.argv.includes('--quick');
const onlyAt = process.argv.indexOf('--only');
const only = onlyAt >= 0 ? process.argv[onlyAt + 1] : undefined;
if (only !== undefined && only !== 'materialize') throw new Error(`--only takes "materialize", not ${JSON.stringify(only)}`);
const KEYS = quick ? 50_000 : 1_000_000;
const LATENCY_ROUNDS = quick ? 3 : 6;
const LATENCY_PER_ROUND = quick ? 1000 : 3000;
const LOAD_SECONDS = quick ? 2 : 3;
const LOAD_ROUNDS = quick ? 2 : 8;
const LOAD_CONNECTIONS = 10;
const log = (m) => console.error(`[redis bench] ${m}`);

const dist = (p) => join(ROOT, 'dist', p);
if (!existsSync(dist('src/cli.js'))) throw new Error('dist/ is missing: run npx tsc -p tsconfig.json first');
const { buildBundle } = await import(dist('bundle-builder/build.js'));
const { materialize } = await import(dist('bundle-builder/materialize.js'));
const { RowValueCodec } = await import(dist('src/core/bundle/row-value.js'));
const { ViewKeys } = await import(dist('src/sidecar/redis/keys.js'));
const { default: Redis } = await import('ioredis');

// ---------------------------------------------------------------- data
const FEATURES = [];
for (let k = 0; k < 20; k++) {
  const dtype = ['int64', 'float32', 'float64', 'string'][k % 4];
  const h = `hash(i * 31 + ${k})`;
  const sql = { int64: `${h} % 100000`, float32: `(${h} % 10000) / 100.0`, float64: `(${h} % 1000000) / 1000.0`, string: `'v' || (${h} % 500)` }[dtype];
  FEATURES.push({ name: `f${String(k).padStart(2, '0')}`, dtype, sql });
}
const SQL_TYPE = { int64: 'BIGINT', float32: 'FLOAT', float64: 'DOUBLE', string: 'VARCHAR' };
const AS_OF = Date.UTC(2026, 0, 2);

const dataDir = join(ROOT, 'bench/.data', `redis-${KEYS}`);
const repoDir = join(dataDir, 'repo');
async function writeDataset() {
  if (existsSync(join(repoDir, 'larder.config.json'))) return;
  log(`writing ${KEYS} keys x 20 features with DuckDB ...`);
  await rm(dataDir, { recursive: true, force: true });
  await mkdir(join(repoDir, 'data'), { recursive: true });
  const db = await DuckDBInstance.create(':memory:');
  const conn = await db.connect();
  const cols = FEATURES.map((f) => `CAST(${f.sql} AS ${SQL_TYPE[f.dtype]}) AS ${f.name}`).join(', ');
  await conn.run(`COPY (SELECT i AS user_id, TIMESTAMP '2026-01-01 00:00:00' + to_seconds(i % 86400) AS ts, ${cols} FROM range(${KEYS}) t(i)) TO '${join(repoDir, 'data/users.parquet')}' (FORMAT parquet)`);
  conn.closeSync();
  db.closeSync();
  await writeFile(join(repoDir, 'larder.config.json'), JSON.stringify({
    project: 'redisbench',
    entities: [{ name: 'user', joinKeys: ['user_id'] }],
    sources: [{ name: 'users', path: 'data/users.parquet', timestampField: 'ts' }],
    featureViews: [{ name: 'user_features', entities: ['user'], source: 'users', ttlSeconds: 0, features: FEATURES.map(({ name, dtype }) => ({ name, dtype })) }],
    featureServices: [],
  }, null, 2));
}

const randomKey = () => Math.floor(Math.random() * KEYS);
const FEATURE_LIST = FEATURES.map((f) => `"user_features:${f.name}"`).join(',');
const body1 = (id) => `{"features":[${FEATURE_LIST}],"entities":{"user_id":[${id}]}}`;
const bodyN = (n) => `{"features":[${FEATURE_LIST}],"entities":{"user_id":[${Array.from({ length: n }, randomKey).join(',')}]}}`;
/** Entities per request in the throughput comparison. */
const LOAD_SHAPES = [1, 10];

// ---------------------------------------------------------------- 3. materialize
/** Section 3: materialize, and direct ioredis writes of the same number of values. */
async function materializeSection(redis, results) {
  log('materialize ...');
  // redis-server idles but in the write phase, so its CPU over the whole call is the write phase's.
  const redisCpu0 = cpuMsOf(redis.pid);
  const mat = await materialize({ repoDir, redis: { kind: 'standalone', url: redis.url }, asOf: new Date(AS_OF) });
  const redisCpuSeconds = (cpuMsOf(redis.pid) - redisCpu0) / 1000;
  const v = mat.views[0];
  results.materialize = { keys: v.keys, written: v.written, ...mat.timings, seconds: mat.seconds, writeKeysPerSecond: mat.writeKeysPerSecond, endToEnd: v.keys / mat.seconds, redisCpuSeconds };
  // Again over the same keys, as a daily materialize runs: every key is present, so the script compares and replaces each row.
  log('materialize again over the same keys ...');
  const againCpu0 = cpuMsOf(redis.pid);
  const again = await materialize({ repoDir, redis: { kind: 'standalone', url: redis.url }, asOf: new Date(AS_OF) });
  results.materializeAgain = { ...again.timings, written: again.views[0].written, kept: again.views[0].kept, seconds: again.seconds, writeKeysPerSecond: again.writeKeysPerSecond, redisCpuSeconds: (cpuMsOf(redis.pid) - againCpu0) / 1000 };
  const direct = new Redis(redis.url, { enableAutoPipelining: false });
  {
    // The same values (encoded once, outside the timing), written by plain pipelined SETs.
    const codec = new RowValueCodec(FEATURES.map(({ name, dtype }) => ({ name, dtype })));
    const n = Math.min(KEYS, 200_000);
    const keys = Array.from({ length: n }, (_, i) => String(i));
    const values = [];
    const cols = FEATURES.map((f) => keys.map((_, i) => (f.dtype === 'string' ? `v${i % 500}` : i % 1000)));
    codec.encode(keys, keys.map(() => AS_OF), undefined, cols, (i, b) => (values[i] = Buffer.from(b.buffer, b.byteOffset, b.byteLength)));
    const t = performance.now();
    for (let start = 0; start < n; start += 4096) {
      const p = direct.pipeline();
      for (let i = start; i < Math.min(n, start + 4096); i++) p.set(`direct:${i}`, values[i]);
      await p.exec();
    }
    results.directWrites = n / ((performance.now() - t) / 1000);
    for (let start = 0; start < n; start += 10_000) await direct.del(...keys.slice(start, start + 10_000).map((k) => `direct:${k}`));
    direct.disconnect();
  }
}

// ---------------------------------------------------------------- 1 and 2. reads
/** Sections 1 and 2: cold reads and throughput per core, through sidecars on `redis`. */
async function readSections(redis, results) {
  log('bundles: one with no keys, one with all ...');
  const emptyDir = join(dataDir, 'bundles-empty');
  const fullDir = join(dataDir, 'bundles-full');
  for (const d of [emptyDir, fullDir]) {
    await rm(d, { recursive: true, force: true });
    await mkdir(d, { recursive: true });
  }
  await buildBundle({ repoDir, outDir: emptyDir, asOf: new Date(AS_OF), hotLimit: 0 });
  await buildBundle({ repoDir, outDir: fullDir, asOf: new Date(AS_OF) });

  const common = ['--redis', redis.url, '--redis-timeout-ms', '1000'];
  const viaRedis = await startSidecar(ROOT, ['--bundles', emptyDir, '--cache-max-bytes', '0', ...common]);
  const viaBundle = await startSidecar(ROOT, ['--bundles', fullDir, ...common]);
  const bare = await startBare(ROOT);
  try {
    // 1. cold reads: sidecar (Redis only) against direct MGET, interleaved rounds.
    log('cold reads ...');
    const codec = new RowValueCodec(FEATURES.map(({ name, dtype }) => ({ name, dtype })));
    const viewKeys = new ViewKeys('larder', 'redisbench', 'user_features', codec.fingerprint);
    // ioredis as an application would open it (its defaults; the sidecar's reads do not auto-pipeline either).
    const reader = new Redis(redis.url);
    const client = await rawClient(viaRedis.port, '/get-online-features');
    const bundleClient = await rawClient(viaBundle.port, '/get-online-features');
    const sample = await sampleAnswer(viaBundle.url, '/get-online-features', body1(randomKey()));
    await bare.setAnswer(sample.body, sample.headers);
    const bareClient = await rawClient(bare.port, '/get-online-features');
    const sidecarMs = [];
    const directMs = [];
    const bundleMs = [];
    const bareMs = [];
    // CPU ms of each server process over its own rounds: the cost per request, which other load distorts less than latency.
    const cpu = { sidecar: 0, redisOfSidecar: 0, bundle: 0, bare: 0, redisOfDirect: 0 };
    let bad = 0;
    for (let warm = 0; warm < 500; warm++) {
      await client.post(body1(randomKey()));
      await reader.mgetBuffer([viewKeys.key(String(randomKey()))]);
    }
    for (let i = 0; i < 500; i++) await bareClient.post(body1(randomKey()));
    /** Runs `fn`, adding the CPU ms that `pid` used meanwhile to cpu[what]. */
    const charged = async (pairs, fn) => {
      const before = pairs.map(([, pid]) => cpuMsOf(pid));
      await fn();
      pairs.forEach(([what, pid], i) => (cpu[what] += cpuMsOf(pid) - before[i]));
    };
    for (let round = 0; round < LATENCY_ROUNDS; round++) {
      await charged([['sidecar', viaRedis.pid], ['redisOfSidecar', redis.pid]], async () => {
        for (let i = 0; i < LATENCY_PER_ROUND; i++) {
          const r = await client.post(body1(randomKey()));
          if (r.status !== 200 || !r.body.includes('"PRESENT"')) bad++;
          sidecarMs.push(r.ms);
        }
      });
      // For reference: the same request answered from the bundle (HTTP and JSON without Redis).
      await charged([['bundle', viaBundle.pid]], async () => {
        for (let i = 0; i < LATENCY_PER_ROUND; i++) bundleMs.push((await bundleClient.post(body1(randomKey()))).ms);
      });
      // And node:http alone, answering the same bytes.
      await charged([['bare', bare.pid]], async () => {
        for (let i = 0; i < LATENCY_PER_ROUND; i++) bareMs.push((await bareClient.post(body1(randomKey()))).ms);
      });
      await charged([['redisOfDirect', redis.pid]], async () => {
        for (let i = 0; i < LATENCY_PER_ROUND; i++) {
          const key = viewKeys.key(String(randomKey()));
          const t = process.hrtime.bigint();
          const got = await reader.mgetBuffer([key]);
          directMs.push(Number(process.hrtime.bigint() - t) / 1e6);
          if (!got[0]) bad++;
        }
      });
    }
    client.close();
    bundleClient.close();
    bareClient.close();
    reader.disconnect();
    const perRequestUs = (ms) => (ms * 1000) / (LATENCY_ROUNDS * LATENCY_PER_ROUND);
    results.latency = {
      sidecarP50: percentile(sidecarMs, 0.5) * 1000, sidecarP99: percentile(sidecarMs, 0.99) * 1000,
      directP50: percentile(directMs, 0.5) * 1000, directP99: percentile(directMs, 0.99) * 1000,
      bundleP50: percentile(bundleMs, 0.5) * 1000, bundleP99: percentile(bundleMs, 0.99) * 1000,
      bareP50: percentile(bareMs, 0.5) * 1000, bareP99: percentile(bareMs, 0.99) * 1000,
      cpuUs: Object.fromEntries(Object.entries(cpu).map(([k, v]) => [k, perRequestUs(v)])),
      n: sidecarMs.length, bad,
    };

    // 2. throughput per core: the servers on one core, wrk and redis-server on
    // the other, short rounds, the three servers in turn. (Not for section 1:
    // there each request wakes an idle pinned core, which on this VM costs
    // more than the request.)
    log('throughput ...');
    for (const s of [viaRedis, viaBundle, bare]) pinProcess(s.pid, SERVER_CORE);
    pinProcess(redis.pid, LOAD_CORE);
    const loads = {};
    const paths = [['redis', viaRedis], ['bundle', viaBundle], ['bare', bare]];
    for (const entities of LOAD_SHAPES) {
      const parts = { prefix: `{"features":[${FEATURE_LIST}],"entities":{"user_id":[`, suffix: ']}}', entities, keys: KEYS };
      for (let round = 0; round < LOAD_ROUNDS; round++) {
        // The bare server answers a sidecar answer of this shape, with its headers.
        const sample = await sampleAnswer(viaBundle.url, '/get-online-features', bodyN(entities));
        await bare.setAnswer(sample.body, sample.headers);
        for (let i = 0; i < paths.length; i++) {
          const [path, s] = paths[(i + round) % paths.length];
          const name = `${path} ${entities}`;
          loads[name] ??= [];
          const redis0 = cpuMsOf(redis.pid);
          const r = await runWrk({ url: s.url, parts, connections: LOAD_CONNECTIONS, durationSec: LOAD_SECONDS, serverPid: s.pid });
          // The bare server never asks Redis: only its own CPU counts.
          const redisUs = path === 'bare' ? 0 : ((cpuMsOf(redis.pid) - redis0) * 1000) / r.requests;
          // redis-server shares the load generator's core by design: only what is left beyond it disturbs.
          const redisPct = (redisUs * r.rps) / 1e4;
          const disturbed = Math.max(r.otherServerCorePct, r.otherLoadCorePct - redisPct) > DISTURBED_PCT;
          loads[name].push({ rps: r.rps, serverUs: r.serverCpuUsPerRequest, redisUs, perCore: 1e6 / (r.serverCpuUsPerRequest + redisUs), serverPct: r.serverCpuPct, p50: r.p50, p99: r.p99, non2xx: r.non2xx + r.errors, disturbed });
        }
      }
    }
    results.loads = loads;
  } finally {
    viaRedis.stop();
    viaBundle.stop();
    bare.stop();
  }
}

// ---------------------------------------------------------------- run
const loadBefore = loadavg();
if (only !== 'materialize') sidecarTools();
await writeDataset();
const redis = await startRedis();
const results = {};
try {
  await materializeSection(redis, results);
  if (only !== 'materialize') await readSections(redis, results);
} finally {
  redis.stop();
}

// ---------------------------------------------------------------- report
const loadAfter = loadavg();
const num = (x, d = 0) => Number(x).toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
const median = (xs) => percentile(xs, 0.5);
const pass = (ok) => (ok ? '**PASS**' : '**FAIL**');
const m = results.materialize;
const ma = results.materializeAgain;
const materializeRow = `| materialize, keys/s of 20 features | ${num(m.writeKeysPerSecond)} keys/s (write phase) | direct ioredis pipelined SETs ${num(results.directWrites)} keys/s | >= 200,000 | ${pass(m.writeKeysPerSecond >= 200_000)} |`;
const materializeMd = `## 3. Materialize

\`materialize()\` (as \`larder materialize\`) of all ${num(KEYS)} keys: ${num(m.seconds, 2)} s in all (${num(m.endToEnd)} keys/s end to end): DuckDB's as-of snapshot ${num(m.snapshotSeconds, 2)} s, then the write phase ${num(m.writeSeconds, 2)} s (**${num(m.writeKeysPerSecond)} keys/s**): the snapshot read from DuckDB into columns, encoded and written in batches of 4,096, four in flight, so that Redis stores batches while the next is read (of the write phase, DuckDB to columns took ${num(m.convertSeconds, 2)} s and encoding ${num(m.encodeSeconds, 2)} s). Keys Redis does not hold are stored by \`MSETNX\`, 512 a call; a call that finds a key present goes through the newest-wins Lua script. ${num(m.written)} keys written. The snapshot is the build's own step (bench/results/builder.md measures it, and the conversion); the target is read on the write phase. redis-server used ${num(m.redisCpuSeconds, 2)} CPU s (${num(m.redisCpuSeconds / m.writeSeconds, 2)} of a core over the write phase). Again over the same keys (every key present, so each call's \`MSETNX\` stores nothing and the script compares and replaces every row, as a repeated materialize does): ${num(ma.seconds, 2)} s in all, write phase ${num(ma.writeSeconds, 2)} s (${num(ma.writeKeysPerSecond)} keys/s; ${num(ma.written)} written, ${num(ma.kept)} kept), redis-server ${num(ma.redisCpuSeconds, 2)} CPU s. Baseline: the same encoded values (one codec pass outside the timing) written with plain pipelined \`SET\`s, 4,096 per pipeline: ${num(results.directWrites)} keys/s.
`;
const machineMd = (command) => `## Machine and run

- Date: ${new Date().toISOString()}
- Command: \`${command}\`
- CPU: ${cpus()[0]?.model ?? '?'}, ${cpus().length} cores (shared with other work during the run; see load)
- Node ${process.version}, ${Math.round(totalmem() / 2 ** 30)} GiB RAM, redis-server on 127.0.0.1 (no persistence)
- Load average (1, 5, 15 min) before: ${loadBefore.map((x) => x.toFixed(2)).join(', ')}; after: ${loadAfter.map((x) => x.toFixed(2)).join(', ')}

Data: ${num(KEYS)} keys (\`user_id\` int64) x 20 features (5 each of int64, float32, float64, string), one row per key, one Parquet file.
`;
if (only === 'materialize') {
  console.log(`# Redis benchmark (issue 10), materialize only${quick ? ' (quick run)' : ''}\n\n${machineMd(`node bench/redis.mjs${quick ? ' --quick' : ''} --only materialize`)}\n${materializeRow}\n\n${materializeMd}`);
  process.exit(0);
}
const lat = results.latency;
const added = lat.sidecarP50 - lat.directP50;
const perCore = (name) => median(results.loads[name].map((l) => l.perCore));
/** The median over rounds of one path's per-core throughput over another's in the same round (seconds apart). */
const roundRatio = (a, b) => median(results.loads[a].map((l, i) => l.perCore / results.loads[b][i].perCore));
const ratioOf = (entities) => roundRatio(`bundle ${entities}`, `redis ${entities}`);
/** What a bundle path costing nothing beyond node:http would reach: bare node:http per core over the Redis-only sidecar's. */
const ceilingOf = (entities) => roundRatio(`bare ${entities}`, `redis ${entities}`);
const cpuUs = lat.cpuUs;
const PATH_NAMES = { redis: 'Redis only', bundle: 'bundle + LRU', bare: 'bare node:http (same bytes)' };
const md = `# Redis benchmark (issue 10)${quick ? ' (quick run)' : ''}

${machineMd(`node bench/redis.mjs${quick ? ' --quick' : ''}`)}
## Targets

| question | measured | baseline (same run) | target | result |
| --- | --- | --- | --- | --- |
| cold read, 1 entity x 20 features, p50 | sidecar ${num(lat.sidecarP50)} µs | direct ioredis MGET ${num(lat.directP50)} µs | sidecar adds <= 100 µs | ${num(added)} µs ${pass(added <= 100)} |
${LOAD_SHAPES.map((e) => `| requests/s per core, ${e} x 20, bundle + LRU vs Redis only | ${num(perCore(`bundle ${e}`))} vs ${num(perCore(`redis ${e}`))} | the Redis-only sidecar | >= 3x | ${num(ratioOf(e), 2)}x ${pass(ratioOf(e) >= 3)} |`).join('\n')}
${LOAD_SHAPES.map((e) => `| for reference, ${e} x 20: bare node:http (same bytes) vs Redis only | ${num(perCore(`bare ${e}`))} vs ${num(perCore(`redis ${e}`))} | the Redis-only sidecar | (the most any node:http bundle path could reach) | ${num(ceilingOf(e), 2)}x |`).join('\n')}
${materializeRow}

## 1. Cold reads

Sequential requests on one keep-alive connection (a minimal client: status line and Content-Length only), each for a random key of all ${num(KEYS)}: the sidecar has an empty bundle and \`--cache-max-bytes 0\`, so every request reads Redis. The baseline is the bench process's own ioredis client (its default options; the sidecar's reads do not auto-pipeline either) doing \`MGET\` of the same Redis key, without decoding. ${LATENCY_ROUNDS} interleaved rounds of ${num(LATENCY_PER_ROUND)} each.

| path | p50 µs | p99 µs | requests | server CPU µs/request |
| --- | --- | --- | --- | --- |
| client -> sidecar -> Redis (HTTP, JSON, decode) | ${num(lat.sidecarP50)} | ${num(lat.sidecarP99)} | ${num(lat.n)} | sidecar ${num(cpuUs.sidecar)} + redis-server ${num(cpuUs.redisOfSidecar)} |
| client -> Redis (MGET) | ${num(lat.directP50)} | ${num(lat.directP99)} | ${num(lat.n)} | redis-server ${num(cpuUs.redisOfDirect)} |
| for reference: client -> sidecar, key in its bundle (HTTP and JSON, no Redis) | ${num(lat.bundleP50)} | ${num(lat.bundleP99)} | ${num(lat.n)} | sidecar ${num(cpuUs.bundle)} |
| for reference: client -> bare node:http answering the same bytes | ${num(lat.bareP50)} | ${num(lat.bareP99)} | ${num(lat.n)} | ${num(cpuUs.bare)} |

Answers that were not 200 with PRESENT values, or empty MGETs: ${lat.bad}. Server CPU is user + system time of the process (\`/proc/<pid>/stat\`, 10 ms ticks) over its own rounds, per request: sequential requests, so it includes each request's wake-ups.

## 2. Throughput per core

wrk (lib/wrk.mjs: one thread, ${LOAD_CONNECTIONS} connections, wrk/random-keys.lua) on core ${LOAD_CORE}, the servers each alone on core ${SERVER_CORE} (\`taskset\`), redis-server on core ${LOAD_CORE} beside wrk; ${LOAD_ROUNDS} rounds of ${LOAD_SECONDS} s, the three servers in turn, each going first in turn; ${LOAD_SHAPES.join(' and ')} entities x 20 features, random keys of all ${num(KEYS)}. "Redis only": empty bundle, no LRU. "Bundle + LRU": the full bundle (Redis configured too, never needed). "Bare node:http": bench/bare-server.mjs reading each body and answering the bytes and headers of one sidecar answer of the shape (taken before each round), the floor of any node:http server. Per core = 1 / (the server's CPU µs per request + redis-server's), from /proc over the round. The ratios in the targets are the median over rounds of each round's own ratio (servers measured seconds apart, as this machine's speed drifts within a minute). A round marked * had more than ${DISTURBED_PCT}% of a core taken by other processes.

| path | entities | round | requests/s | server CPU µs/request | redis-server CPU µs/request | requests/s per core | server's share of its core | p50 µs | p99 µs | non-2xx |
| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |
${Object.entries(results.loads).flatMap(([name, runs]) => runs.map((l, i) => `| ${PATH_NAMES[name.split(' ')[0]]} | ${name.split(' ')[1]} | ${i + 1}${l.disturbed ? '*' : ''} | ${num(l.rps)} | ${num(l.serverUs, 1)} | ${num(l.redisUs, 1)} | ${num(l.perCore)} | ${num(l.serverPct)}% | ${num(l.p50)} | ${num(l.p99)} | ${l.non2xx} |`)).join('\n')}

${materializeMd}`;
const out = join(ROOT, 'bench/results', quick ? 'redis-quick.md' : 'redis.md');
await mkdir(join(ROOT, 'bench/results'), { recursive: true });
await writeFile(out, md);
log(`wrote ${out}`);
console.log(md);
