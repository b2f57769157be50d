/**
 * Issue 11's served-log benchmark: the sidecar's per-core throughput with
 * `--log-served` at sample 1.0 against the same sidecar with logging off,
 * in the same run. Target: at most 10% lower.
 *
 *   bundle   200,000 keys, one view of 20 features (float64, int64,
 *            float32, string), written once to bench/.data/.
 *   servers  two `larder serve` child processes (defaults otherwise), one
 *            with --log-served <dir> --log-sample 1.
 *   load     autocannon from this process, 10 connections, each request a
 *            fresh random key (1 entity x 20 features; then 10 x 20).
 *   measure  responses per second of the server's own CPU time (user +
 *            system, all its threads, from /proc): per-core throughput,
 *            which the load generator sharing the machine cannot distort
 *            the way requests/s alone can. Rounds alternate the servers.
 *   check    after the runs, the logging server is stopped with SIGTERM and
 *            its files must log every entity answered (one line per
 *            request, each read back with the log's own parser).
 *
 *   node bench/served-log.mjs [--quick]   (after `npx tsc -p tsconfig.json`)
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { encodeBundle } from '../dist/src/core/bundle/encode.js';
import { bundleFileName } from '../dist/src/core/bundle/format.js';
import { parseServedLine } from '../dist/src/core/shadow/served-record.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const CLI = join(ROOT, 'dist', 'src', 'cli.js');
const quick = process.argv.includes('--quick');
const SIZE = quick ? { keys: 20_000, warmupSec: 1, rounds: 2, roundSec: 2 } : { keys: 200_000, warmupSec: 3, rounds: 4, roundSec: 6 };
const CASES = [{ id: '1x20', entities: 1 }, { id: '10x20', entities: 10 }];
const DATA = join(ROOT, 'bench', '.data', `served-log-${SIZE.keys}`);
const RESULT = join(ROOT, 'bench', 'results', quick ? 'served-log-quick.md' : 'served-log.md');
const FEATURES = [
  ...Array.from({ length: 8 }, (_, i) => ({ name: `d${i}`, dtype: 'float64' })),
  ...Array.from({ length: 6 }, (_, i) => ({ name: `n${i}`, dtype: 'int64' })),
  ...Array.from({ length: 2 }, (_, i) => ({ name: `f${i}`, dtype: 'float32' })),
  ...Array.from({ length: 4 }, (_, i) => ({ name: `s${i}`, dtype: 'string' })),
];

async function writeBundle() {
  const dir = join(DATA, 'bundles');
  if (existsSync(join(dir, bundleFileName('benchlog', 1)))) return dir;
  await mkdir(dir, { recursive: true });
  const n = SIZE.keys;
  let seed = 7;
  const rnd = () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const columns = Object.fromEntries(FEATURES.map((f) => [f.name, Array.from({ length: n }, () =>
    f.dtype === 'string' ? `v${Math.floor(rnd() * 30)}` : f.dtype === 'int64' ? Math.floor(rnd() * 10_000) : Math.round(rnd() * 1e6) / 1e3)]));
  const now = new Date();
  const bytes = await encodeBundle({
    project: 'benchlog', version: 1, parentVersion: null, createdAt: now, asOf: now,
    repo: {
      project: 'benchlog', entities: [{ name: 'user', joinKeys: ['user_id'] }], sources: [{ name: 's', path: 'x.parquet', timestampField: 'ts' }], featureServices: [],
      featureViews: [{ name: 'u20', entities: ['user'], source: 's', ttlSeconds: 0, features: FEATURES }],
    },
    views: [{ name: 'u20', joinKeys: [{ name: 'user_id', dtype: 'int64' }], keys: Array.from({ length: n }, (_, i) => String(i)), eventTsMs: new Float64Array(n).fill(now.getTime() - 1000), columns }],
  });
  await writeFile(join(dir, bundleFileName('benchlog', 1)), bytes);
  return dir;
}

function freePort() {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function startServer(bundles, extra) {
  const port = await freePort();
  const child = spawn(process.execPath, [CLI, 'serve', '--bundles', bundles, '--port', String(port), ...extra], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 200; i++) {
    try {
      if ((await fetch(`${url}/ready`)).ok) return { child, url, err: () => err };
    } catch {}
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`server did not start: ${err}`);
}

/** CPU ms used so far by `pid` (user + system, every thread). */
function cpuMs(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1000) / 100;
}

function bodyMaker(entities) {
  const prefix = `{"features":${JSON.stringify(FEATURES.map((f) => `u20:${f.name}`))},"entities":{"user_id":[`;
  return () => {
    let ids = String(Math.floor(Math.random() * SIZE.keys));
    for (let i = 1; i < entities; i++) ids += ',' + Math.floor(Math.random() * SIZE.keys);
    return Buffer.from(prefix + ids + ']}}');
  };
}

/** One autocannon run; returns responses, errors and the server's CPU seconds. */
async function load(server, c, seconds) {
  const next = bodyMaker(c.entities);
  const cpu0 = cpuMs(server.child.pid);
  let responses = 0;
  let bad = 0;
  const t0 = performance.now();
  await new Promise((resolve, reject) => {
    const instance = autocannon({
      url: server.url, connections: 10, pipelining: 1, duration: seconds,
      requests: [{ method: 'POST', path: '/get-online-features', headers: { 'content-type': 'application/json' }, setupRequest: (req) => ((req.body = next()), req) }],
    }, (err, result) => (err ? reject(err) : resolve(result)));
    instance.on('response', (_c, status) => {
      responses++;
      if (status !== 200) bad++;
    });
  });
  const wall = (performance.now() - t0) / 1000;
  return { responses, bad, cpuSeconds: (cpuMs(server.child.pid) - cpu0) / 1000, wall };
}

async function metric(url, name) {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(name + ' '));
  return line ? Number(line.slice(name.length + 1)) : NaN;
}

/** Lines (one per request) and the entities they log, each line parsed and checked by the log's own reader. */
async function countLogged(dir) {
  let lines = 0;
  let entities = 0;
  let bytes = 0;
  for (const f of (await readdir(dir)).filter((x) => x.endsWith('.ndjson'))) {
    const text = await readFile(join(dir, f), 'utf8');
    bytes += Buffer.byteLength(text);
    for (const line of text.split('\n')) {
      if (line === '') continue;
      lines++;
      entities += parseServedLine(line).entity_index.length;
    }
  }
  return { lines, entities, bytes };
}

const fmt = (n) => Math.round(n).toLocaleString('en-US');

async function main() {
  const loadBefore = os.loadavg().map((x) => x.toFixed(2)).join(', ');
  const bundles = await writeBundle();
  const logDir = join(DATA, 'served');
  await rm(logDir, { recursive: true, force: true });
  const off = await startServer(bundles, []);
  const on = await startServer(bundles, ['--log-served', logDir, '--log-sample', '1']);
  const rows = [];
  const entitiesSent = { value: 0 };
  try {
    for (const c of CASES) {
      for (const s of [off, on]) await load(s, c, SIZE.warmupSec);
      const tally = { off: { responses: 0, cpu: 0, wall: 0, bad: 0, rounds: [] }, on: { responses: 0, cpu: 0, wall: 0, bad: 0, rounds: [] } };
      for (let r = 0; r < SIZE.rounds; r++) {
        for (const which of r % 2 === 0 ? ['off', 'on'] : ['on', 'off']) {
          const res = await load(which === 'off' ? off : on, c, SIZE.roundSec);
          const t = tally[which];
          t.responses += res.responses;
          t.cpu += res.cpuSeconds;
          t.wall += res.wall;
          t.bad += res.bad;
          t.rounds.push(res.responses / res.cpuSeconds);
          console.error(`${c.id} round ${r + 1} ${which}: ${fmt(res.responses / res.wall)} req/s, ${fmt(res.responses / res.cpuSeconds)} per CPU-second`);
        }
      }
      rows.push({ c, tally });
    }
  } finally {
    off.child.kill('SIGTERM');
  }
  const accepted = await metric(on.url, 'larder_served_log_rows_total{result="accepted"}');
  const dropped = await metric(on.url, 'larder_served_log_rows_total{result="dropped"}');
  on.child.kill('SIGTERM');
  const exitCode = await new Promise((r) => on.child.on('exit', (code) => r(code)));
  const { lines, entities, bytes } = await countLogged(logDir);
  // Every logged request was answered 200, warm-ups included: count what was sent to the logging server.
  entitiesSent.value = accepted + dropped;

  const loadAfter = os.loadavg().map((x) => x.toFixed(2)).join(', ');
  const table = rows.map(({ c, tally }) => {
    const perCore = (t) => t.responses / t.cpu;
    const ratio = perCore(tally.on) / perCore(tally.off);
    return { c, tally, ratio, line: `| ${c.id} | ${fmt(tally.off.responses / tally.off.wall)} | ${fmt(perCore(tally.off))} | ${fmt(tally.on.responses / tally.on.wall)} | ${fmt(perCore(tally.on))} | ${((1 - ratio) * 100).toFixed(1)}% | ${tally.on.rounds.map((x, i) => `${((1 - x / tally.off.rounds[i]) * 100).toFixed(0)}%`).join(', ')} |` };
  });
  const md = `# Served-log benchmark (issue 11)

## Machine and run

- Date: ${new Date().toISOString()}
- Command: \`node bench/served-log.mjs${quick ? ' --quick' : ''}\`
- CPU: ${os.cpus()[0]?.model.trim()}, ${os.cpus().length} cores (shared with other work during the run; see load)
- Node ${process.version}, ${os.type()} ${os.release()} ${os.arch()}, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB RAM
- Load average (1, 5, 15 min) before: ${loadBefore}; after: ${loadAfter}

## Setup

- Bundle: ${fmt(SIZE.keys)} keys, one view of 20 features (8 float64, 6 int64, 2 float32, 4 string), TTL 0.
- Servers: \`larder serve --bundles <dir>\` (logging off) and \`larder serve --bundles <dir> --log-served <dir> --log-sample 1\` (logging on), both with every other option at its default (drift sample 0.01), as child processes.
- Load: autocannon, 10 connections, pipelining 1, a fresh random key per entity per request; warm-up ${SIZE.warmupSec} s per server and case, then ${SIZE.rounds} rounds of ${SIZE.roundSec} s per server, alternating which goes first.
- Per-core throughput: responses / the server process's CPU seconds (user + system, all threads, from /proc) over the measured rounds. The load generator shares the 2 cores, so requests/s is shown but not judged.

## Result

| case (entities x features) | off: requests/s | off: per CPU-second | on: requests/s | on: per CPU-second | per-core cost of logging | per round |
| --- | --- | --- | --- | --- | --- | --- |
${table.map((t) => t.line).join('\n')}

| target | measured | result |
| --- | --- | --- |
${table.map((t) => `| ${t.c.id}: per-core throughput with --log-served at sample 1.0 >= 90% of logging off | ${(t.ratio * 100).toFixed(1)}% | **${t.ratio >= 0.9 ? 'PASS' : 'FAIL'}** |`).join('\n')}
| every answered entity logged, none dropped, all written by SIGTERM | ${fmt(accepted)} accepted, ${fmt(dropped)} dropped, ${fmt(entities)} entities in ${fmt(lines)} lines in the files (${(bytes / 2 ** 20).toFixed(0)} MiB), exit ${exitCode} | **${dropped === 0 && entities === accepted && exitCode === 0 ? 'PASS' : 'FAIL'}** |
| every response 200 | ${rows.reduce((s, r) => s + r.tally.off.bad + r.tally.on.bad, 0)} others | **${rows.every((r) => r.tally.off.bad + r.tally.on.bad === 0) ? 'PASS' : 'FAIL'}** |
`;
  await mkdir(join(ROOT, 'bench', 'results'), { recursive: true });
  await writeFile(RESULT, md);
  await rm(logDir, { recursive: true, force: true });
  console.log(md);
}

await main();
