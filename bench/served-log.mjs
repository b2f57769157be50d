/**
 * Issue 11's served-log benchmark: the sidecar's per-core throughput with
 * `--log-served` at sample 1.0 against the same sidecar with logging off,
 * in the same run. Target: at most 10% lower.
 *
 *   bundle   200,000 keys, one view of 20 features (float64, int64,
 *            float32, string), written once to bench/.data/.
 *   servers  per case, generations of four fresh `larder serve` child
 *            processes (defaults otherwise), two with --log-served <dir>
 *            --log-sample 1 (see SERVERS). All are pinned to core 0
 *            (taskset), every thread included, so the log's file-writing
 *            threads count against the server.
 *   load     wrk on core 1 (lib/wrk.mjs), 10 connections, each request a
 *            fresh random key (1 entity x 20 features; then 10 x 20).
 *   measure  responses per second of the server's own CPU time (user +
 *            system, all its threads, from /proc): per-core throughput.
 *            With the server alone on its core that is also its
 *            requests/s; a round another process disturbed (more than
 *            DISTURBED_PCT of either core) is run again. Rounds of a
 *            second take the servers in turn.
 *   check    after each round the logging servers' complete files are
 *            read back with the log's own parser and removed, as a log
 *            shipper would (shipLogged); the rest after SIGTERM ends a
 *            generation. The files must log every entity answered.
 *
 *   node bench/served-log.mjs [--quick]   (after `npx tsc -p tsconfig.json`)
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, writeSync } from 'node:fs';
import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, waitForOk } from './lib/children.mjs';
import { DISTURBED_PCT, LOAD_CORE, SERVER_CORE, disturbance, isDisturbed, pinned } from './lib/pinning.mjs';
import { median, medianInterval, seededRandom } from './lib/stats.mjs';
import { runWrk, sidecarTools } from './lib/wrk.mjs';
import { encodeBundle } from '../dist/src/core/bundle/encode.js';
import { bundleFileName } from '../dist/src/core/bundle/format.js';
import { parseServedLine } from '../dist/src/core/shadow/served-record.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const CLI = join(ROOT, 'dist', 'src', 'cli.js');
const quick = process.argv.includes('--quick');
/**
 * Per case: `generations` sets of fresh servers, each warmed up, then
 * `rounds` rounds of `roundSec` per server. Rounds of one second: a
 * round's four servers are then measured within a few seconds of each
 * other (this machine's speed swings by tens of percent within a minute),
 * and 32 rounds a case steady the median (with 12 rounds of 2 s, single
 * rounds ranged from -18% to 41%, and whole runs at 10x20 from 6.6% to
 * 11.0% at unchanged code).
 */
const SIZE = quick ? { keys: 20_000, warmupSec: 1, generations: 1, rounds: 2, roundSec: 2 } : { keys: 200_000, warmupSec: 2, generations: 4, rounds: 8, roundSec: 1 };
/** MiB written by pageCacheWriteCost per pass. */
const PAGE_TEST_MIB = quick ? 32 : 256;
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
  const rnd = seededRandom(7);
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

async function startServer(bundles, extra) {
  const port = await freePort();
  const [cmd, args] = pinned(SERVER_CORE, process.execPath, [CLI, 'serve', '--bundles', bundles, '--port', String(port), ...extra]);
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  // Its exit code, or the signal that ended it; listened for from the start, so an early exit is not missed.
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal)));
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  const url = `http://127.0.0.1:${port}`;
  await waitForOk(`${url}/ready`, 10_000, () => child.exitCode === null).catch((e) => {
    child.kill('SIGTERM');
    throw new Error(`server did not start: ${e.message}\n${err}`);
  });
  return { child, url, exited };
}

/** The request of case `c` around its keys, as wrk/random-keys.lua builds it. */
const partsOf = (c) => ({ prefix: `{"features":${JSON.stringify(FEATURES.map((f) => `u20:${f.name}`))},"entities":{"user_id":[`, suffix: ']}}', entities: c.entities, keys: SIZE.keys });

/** Most times a disturbed round is run again before it is kept anyway (and marked). */
const ATTEMPTS = 3;

const CONNECTIONS = 10;

/**
 * One wrk run, again while another process disturbed it (up to ATTEMPTS);
 * returns the kept run's responses, errors and the server's CPU seconds,
 * and over all attempts the responses wrk counted and the runs made.
 */
async function load(server, c, seconds) {
  let run;
  let counted = 0;
  let runs = 0;
  for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
    run = await runWrk({ url: server.url, parts: partsOf(c), connections: CONNECTIONS, durationSec: seconds, serverPid: server.child.pid });
    counted += run.requests;
    runs++;
    if (!isDisturbed(run)) break;
    console.error(`  disturbed (${disturbance(run).toFixed(0)}% of a core taken by other work), ${attempt < ATTEMPTS ? 'again' : 'kept'}`);
  }
  const cpuSeconds = (run.serverCpuUsPerRequest * run.requests) / 1e6;
  return { responses: run.requests, rps: run.rps, bad: run.non2xx + run.errors, cpuSeconds, disturbed: isDisturbed(run), serverCpuPct: run.serverCpuPct, counted, runs };
}

async function metric(url, name) {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(name + ' '));
  return line ? Number(line.slice(name.length + 1)) : NaN;
}

/**
 * Takes the complete files (`*.ndjson`) in `dir` as a log shipper would:
 * adds their lines (one per request) and the entities they log to
 * `logged`, each line parsed and checked by the log's own reader, and
 * removes them. Run after every round and at shutdown, so the files'
 * pages go back to the kernel and the next lines are written into memory
 * the machine has used before (see the Setup notes of the result: here the
 * first write to a page costs many times a later one).
 */
async function shipLogged(dir, logged) {
  for (const f of (await readdir(dir)).filter((x) => x.endsWith('.ndjson'))) {
    const text = await readFile(join(dir, f), 'utf8');
    logged.bytes += Buffer.byteLength(text);
    for (const line of text.split('\n')) {
      if (line === '') continue;
      logged.lines++;
      logged.entities += parseServedLine(line).entity_index.length;
    }
    await rm(join(dir, f));
  }
}

const fmt = (n) => Math.round(n).toLocaleString('en-US');

/**
 * Each generation starts two processes with logging off and two with it
 * on, in turn, and stops them after its rounds: one process can run a few
 * percent faster than another of the same code (where its code and heap
 * landed), so each side is the mean of two, and fresh processes in every
 * generation keep one lucky or unlucky process from deciding a case.
 */
const SERVERS = ['off1', 'on1', 'off2', 'on2'];
const OFF = ['off1', 'off2'];
const ON = ['on1', 'on2'];
const pct = (x) => `${(x * 100).toFixed(1)}%`;
const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;

/** A generation's servers; a logging one writes to its `logDir`, `<logRoot>/<genId>-<server>`. */
async function startGeneration(bundles, logRoot, genId) {
  const servers = {};
  try {
    for (const s of SERVERS) {
      const logDir = ON.includes(s) ? join(logRoot, `${genId}-${s}`) : undefined;
      servers[s] = { ...(await startServer(bundles, logDir ? ['--log-served', logDir, '--log-sample', '1'] : [])), logDir };
    }
  } catch (e) {
    for (const server of Object.values(servers)) server.child.kill('SIGTERM');
    throw e;
  }
  return servers;
}

/**
 * Stops a generation: adds to `check` the entity rows the logging servers
 * accepted and dropped, stops all four with SIGTERM (whatever happened)
 * and waits for them, records their exit codes, then ships the files the
 * logging servers' shutdown completed into `logged`.
 */
async function stopGeneration(servers, check, logged) {
  try {
    for (const s of ON) {
      check.accepted += await metric(servers[s].url, 'larder_served_log_rows_total{result="accepted"}');
      check.dropped += await metric(servers[s].url, 'larder_served_log_rows_total{result="dropped"}');
    }
  } finally {
    for (const s of SERVERS) servers[s].child.kill('SIGTERM');
    check.exitCodes.push(...(await Promise.all(SERVERS.map((s) => servers[s].exited))));
  }
  for (const s of ON) await shipLogged(servers[s].logDir, logged);
}

/**
 * What writing a file costs the writer here, CPU ms per MiB: into a new
 * file (`first`), then into a second one after the first is removed, whose
 * pages the kernel has just freed (`reused`). The second file is kept
 * until the end of the run (`done` removes it), so the test leaves no
 * freed pages behind for the servers.
 */
async function pageCacheWriteCost(dir) {
  const chunk = Buffer.alloc(1 << 20, 0x61);
  const pass = (path) => {
    const fd = openSync(path, 'w');
    const before = process.cpuUsage();
    for (let i = 0; i < PAGE_TEST_MIB; i++) writeSync(fd, chunk);
    const used = process.cpuUsage(before);
    closeSync(fd);
    return (used.user + used.system) / 1e3 / PAGE_TEST_MIB;
  };
  const first = pass(join(dir, 'page-test-1'));
  await rm(join(dir, 'page-test-1'));
  const reused = pass(join(dir, 'page-test-2'));
  return { first, reused, done: () => rm(join(dir, 'page-test-2')) };
}

async function main() {
  sidecarTools();
  const loadBefore = os.loadavg().map((x) => x.toFixed(2)).join(', ');
  const bundles = await writeBundle();
  const logRoot = join(DATA, 'served');
  await rm(logRoot, { recursive: true, force: true });
  await mkdir(logRoot, { recursive: true });
  const pageCost = await pageCacheWriteCost(logRoot);
  const rows = [];
  // Over all cases: what the logging servers accepted and dropped, every server's exit, the entities of the responses wrk counted from the logging servers, and how many more
  // may have been answered and logged without wrk counting them: those of requests in flight when a run stopped, at most CONNECTIONS requests per run.
  const check = { accepted: 0, dropped: 0, exitCodes: [], counted: 0, inFlightLimit: 0 };
  for (const c of CASES) {
    const tally = Object.fromEntries(SERVERS.map((s) => [s, { responses: 0, cpu: 0, bad: 0, rounds: [], disturbed: 0 }]));
    // This case's lines, as its files were shipped.
    const logged = { lines: 0, entities: 0, bytes: 0 };
    /** Counts what wrk saw the logging servers answer, warm-up included. */
    const answered = (which, res) => {
      if (!ON.includes(which)) return;
      check.counted += res.counted * c.entities;
      check.inFlightLimit += res.runs * CONNECTIONS * c.entities;
    };
    for (let g = 0; g < SIZE.generations; g++) {
      const genId = `${c.id}-g${g + 1}`;
      const servers = await startGeneration(bundles, logRoot, genId);
      try {
        for (const s of SERVERS) answered(s, await load(servers[s], c, SIZE.warmupSec));
        for (let r = 0; r < SIZE.rounds; r++) {
          // Each server goes first, second, third and fourth in turn.
          const order = SERVERS.map((_, i) => SERVERS[(i + r) % SERVERS.length]);
          for (const which of order) {
            const res = await load(servers[which], c, SIZE.roundSec);
            answered(which, res);
            const t = tally[which];
            t.responses += res.responses;
            t.cpu += res.cpuSeconds;
            t.bad += res.bad;
            t.disturbed += res.disturbed ? 1 : 0;
            t.rounds.push(res.responses / res.cpuSeconds);
            console.error(`${genId} round ${r + 1} ${which}: ${fmt(res.rps)} req/s, ${fmt(res.responses / res.cpuSeconds)} per CPU-second, server ${res.serverCpuPct.toFixed(0)}% of its core`);
          }
          for (const s of ON) await shipLogged(servers[s].logDir, logged);
        }
      } finally {
        await stopGeneration(servers, check, logged);
      }
    }
    rows.push({ c, tally, logged });
  }
  await pageCost.done();
  const { accepted, dropped, counted, inFlightLimit } = check;
  const exitCode = check.exitCodes.every((code) => code === 0) ? 0 : check.exitCodes.join(', ');
  const sum = (key) => rows.reduce((n, r) => n + r.logged[key], 0);
  const [lines, entities, bytes] = [sum('lines'), sum('entities'), sum('bytes')];
  const inFlight = accepted - counted;

  const loadAfter = os.loadavg().map((x) => x.toFixed(2)).join(', ');
  const table = rows.map(({ c, tally, logged }) => {
    const perCore = (s) => tally[s].responses / tally[s].cpu;
    const roundMean = (group, i) => mean(group.map((s) => tally[s].rounds[i]));
    // Per round: the logging servers against those with it off, measured seconds apart.
    const roundCosts = tally.on1.rounds.map((_, i) => 1 - roundMean(ON, i) / roundMean(OFF, i));
    const spread = (a, b) => median(tally[a].rounds.map((x, i) => 1 - tally[b].rounds[i] / x));
    const cost = median(roundCosts);
    const byGen = Array.from({ length: SIZE.generations }, (_, g) => roundCosts.slice(g * SIZE.rounds, (g + 1) * SIZE.rounds));
    const interval = medianInterval(byGen);
    const overall = 1 - mean(ON.map(perCore)) / mean(OFF.map(perCore));
    // Were every page of the log's files new to the machine: each line's bytes at the first-write cost, not the reused one.
    const onUsPerRequest = 1e6 / mean(ON.map(perCore));
    const extraUs = ((logged.bytes / logged.lines / 2 ** 20) * (pageCost.first - pageCost.reused)) * 1e3;
    const newPages = 1 - ((1 - cost) * onUsPerRequest) / (onUsPerRequest + extraUs);
    const byGeneration = byGen.map((costs) => costs.map((x) => `${(x * 100).toFixed(0)}%`).join(', ')).join(' / ');
    return {
      c, cost, interval,
      line: `| ${c.id} | ${fmt(perCore('off1'))}, ${fmt(perCore('off2'))} | ${fmt(perCore('on1'))}, ${fmt(perCore('on2'))} | **${pct(cost)}** | ${pct(interval[0])} to ${pct(interval[1])} | ${pct(overall)} | ${pct(newPages)} (${extraUs < 0 ? '-' : '+'}${Math.abs(extraUs).toFixed(1)} µs a request) | ${pct(spread('off1', 'off2'))}, ${pct(spread('on1', 'on2'))} | ${byGeneration} |`,
    };
  });
  const md = `# Served-log benchmark (issue 11)

## Machine and run

- Date: ${new Date().toISOString()}
- Command: \`node bench/served-log.mjs${quick ? ' --quick' : ''}\`
- CPU: ${os.cpus()[0]?.model.trim()}, ${os.cpus().length} cores (a shared machine; see load, and disturbed rounds below)
- Node ${process.version}, ${os.type()} ${os.release()} ${os.arch()}, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB RAM
- Load average (1, 5, 15 min) before: ${loadBefore}; after: ${loadAfter}

## Setup

- Bundle: ${fmt(SIZE.keys)} keys, one view of 20 features (8 float64, 6 int64, 2 float32, 4 string), TTL 0.
- Servers: per case, ${SIZE.generations} generation(s) of four fresh processes: two \`larder serve --bundles <dir>\` (logging off) and two \`larder serve --bundles <dir> --log-served <dir> --log-sample 1\` (logging on, each its own directory), started off, on, off, on, each with every other option at its default (drift sample 0.01), and stopped with SIGTERM after the generation's rounds. One process of the same code can run several percent faster than another (where its code and heap landed), so each side is the mean of two, and each case sees ${2 * SIZE.generations} processes of each kind. "Server 1" and "server 2" each take the first and the second started of their kind in every generation (${SIZE.generations} processes each); how far they land apart is shown as the spread.
- Pinning: each server (all its threads, the log's file writes included) on core ${SERVER_CORE}; wrk (one thread, wrk/random-keys.lua) on core ${LOAD_CORE}.
- Load: wrk, 10 connections, a fresh random key per entity per request; in each generation a warm-up of ${SIZE.warmupSec} s per server, then ${SIZE.rounds} rounds of ${SIZE.roundSec} s per server (${SIZE.generations * SIZE.rounds} rounds per case), each server going first, second, third and fourth in turn. Short rounds back to back: this machine's speed drifts by tens of percent within a minute, so each round compares servers measured seconds apart. A round in which other processes took more than ${DISTURBED_PCT}% of either core is run again (up to ${ATTEMPTS} times; disturbed rounds kept: ${rows.reduce((n, r) => n + SERVERS.reduce((m, s) => m + r.tally[s].disturbed, 0), 0)}).
- Log files: the bench takes the logging servers' complete files (rotated at the default 64 MiB) as a log shipper would, after each round and after each generation's SIGTERM: it reads and checks every line with the log's own parser, counts the entities, and removes the files. At sample 1.0 a logging server writes a line per request (${fmt(bytes / lines)} bytes on average in this run), megabytes a second at these rates, so a deployment ships complete files away. Removing them frees their pages for the next lines, as a machine in a steady state reuses its page cache. Here that matters: writing ${PAGE_TEST_MIB} MiB into a new file cost ${pageCost.first.toFixed(2)} ms of CPU per MiB in this run, and ${pageCost.reused.toFixed(2)} ms per MiB into a second file after the first was removed (the second file is kept until the run ends, so this test frees nothing for the servers). The column "were every page new" adds, per request, the line's bytes at the first of those costs instead of the second: the cost the log would show had every file page been memory this machine never wrote before.
- Per-core throughput: responses / the server process's CPU seconds (user + system, all threads, from /proc); with the server alone on its core this is close to its requests/s.
- Cost of logging: per round, 1 - (the mean per-core throughput of the two logging servers / that of the two without); judged on the median over the rounds. Its 95% interval is a bootstrap (4,000 draws, seeded): the generations drawn with replacement, then the rounds within each drawn generation, so that how far one set of processes lands from another widens it; a target inside the interval is not decided by one run, however the median falls. "Overall" uses each server's totals over all rounds instead. Spread: the median over rounds of 1 - second / first of each kind.

## Result

| case (entities x features) | off: per CPU-second (server 1, 2) | on: per CPU-second (server 1, 2) | cost of logging (median of rounds) | its 95% interval | overall | were every page new (estimate) | spread: off, on | per round, by generation |
| --- | --- | --- | --- | --- | --- | --- | --- | --- |
${table.map((t) => t.line).join('\n')}

| target | measured | result |
| --- | --- | --- |
${table.map((t) => `| ${t.c.id}: per-core throughput with --log-served at sample 1.0 at most 10% lower than logging off | ${pct(t.cost)} lower (95% interval ${pct(t.interval[0])} to ${pct(t.interval[1])}) | **${t.cost <= 0.1 ? 'PASS' : 'FAIL'}**${t.interval[0] <= 0.1 && t.interval[1] > 0.1 ? ' (on the median; the interval spans 10%, so this run does not decide it)' : ''} |`).join('\n')}
| every answered entity logged, none dropped, every accepted entity in the files once its server stopped, every server exits 0 on SIGTERM | wrk counted ${fmt(counted)} entities answered by the logging servers; they accepted ${fmt(accepted)} (${fmt(inFlight)} more: requests still in flight when a wrk run stopped, at most ${fmt(inFlightLimit)}), dropped ${fmt(dropped)}; the files hold ${fmt(entities)} entities in ${fmt(lines)} lines (${(bytes / 2 ** 20).toFixed(0)} MiB); exit ${exitCode} | **${dropped === 0 && entities === accepted && inFlight >= 0 && inFlight <= inFlightLimit && exitCode === 0 ? 'PASS' : 'FAIL'}** |
| every response 200 | ${rows.reduce((n, r) => n + SERVERS.reduce((m, s) => m + r.tally[s].bad, 0), 0)} others | **${rows.every((r) => SERVERS.every((s) => r.tally[s].bad === 0)) ? 'PASS' : 'FAIL'}** |
`;
  await mkdir(join(ROOT, 'bench', 'results'), { recursive: true });
  await writeFile(RESULT, md);
  await rm(logRoot, { recursive: true, force: true });
  console.log(md);
}

await main();
