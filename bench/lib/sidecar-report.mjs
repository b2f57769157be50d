/** bench/results/sidecar.md: the serving benchmark's figures, method and checks as Markdown. */
import { ROOT } from './bundles.mjs';
import { CASES, FIXED } from './cases.mjs';
import { machineSection } from './machine.mjs';
import { bullets, table } from './markdown.mjs';
import { DISTURBED_PCT, LOAD_CORE, SERVER_CORE, isDisturbed } from './pinning.mjs';
import { median, num, passFail } from './stats.mjs';

const us = (x) => num(x, 0);
const pct = (x) => `${num(x, 0)}%`;
const SERVERS = ['bare', 'sidecar'];

/**
 * A server's wrk rounds of one case, summed up: from the undisturbed runs
 * when there is one (other processes' bursts are not the server's cost),
 * else from all.
 */
function sumUp(all) {
  const clean = all.filter((r) => !isDisturbed(r));
  const runs = clean.length ? clean : all;
  return {
    used: clean.length ? `${clean.length} of ${all.length}` : `all ${all.length} (all disturbed)`,
    rps: median(runs.map((r) => r.rps)),
    cpuUs: median(runs.map((r) => r.serverCpuUsPerRequest)),
    serverCpuMin: Math.min(...runs.map((r) => r.serverCpuPct)),
    wrkCpuMax: Math.max(...runs.map((r) => r.wrkCpuPct)),
    loadCoreMax: Math.max(...runs.map((r) => r.loadCoreBusyPct)),
  };
}

/**
 * What limited one server's runs of a case: server-bound when its core was
 * full (>= 85%) while wrk's core had room (wrk < 90%, the core < 95% busy).
 * Returns [text, serverBound].
 */
function limitOf(name, x) {
  const load = `wrk ${pct(x.wrkCpuMax)}`;
  if (x.wrkCpuMax >= 90) return [`${name}: **wrk near its core's limit** (${load})`, false];
  if (x.loadCoreMax >= 95) return [`${name}: **core ${LOAD_CORE} full** (${load}, the core ${pct(x.loadCoreMax)} busy)`, false];
  if (x.serverCpuMin < 85) return [`${name}: **server's core not full** (${name} ${pct(x.serverCpuMin)}, ${load})`, false];
  return [`${name}: server-bound (${name} >= ${pct(x.serverCpuMin)}, ${load})`, true];
}

/**
 * Whether the requests/s ratio of a case is a per-core ratio: both servers'
 * runs must be server-bound. A capped bare figure makes the ratio flatter
 * the sidecar; the CPU ratio holds whatever limited the runs. Returns
 * [verdict, ok].
 */
function limitCheck(bare, sidecar) {
  const [b, bOk] = limitOf('bare', bare);
  const [s, sOk] = limitOf('sidecar', sidecar);
  const ok = bOk && sOk;
  return [`${b}; ${s}${ok ? '' : '. The requests/s ratio is not per core here: read the CPU ratio'}`, ok];
}

/** What other processes took from the server's and the load generator's cores during a run. */
const otherCell = (r) => `${pct(r.otherServerCorePct)} / ${pct(r.otherLoadCorePct)}${isDisturbed(r) ? ' **disturbed**' : ''}`;

/** The cores' busy shares in the 500 ms before a run, and the wait for them. */
const quietCell = (q) => `${q.busy.map((b) => pct(b)).join(', ')}${q.waitedMs > 1000 ? ` (waited ${num(q.waitedMs / 1000)} s)` : ''}${q.quiet ? '' : ' **busy**'}`;

export function renderSidecarReport(x) {
  const { size, throughput, fixed, validation, built, data } = x;
  const sums = Object.fromEntries(CASES.map((c) => [c.id, { bare: sumUp(throughput[c.id].bare), sidecar: sumUp(throughput[c.id].sidecar) }]));
  const ratio = (id) => sums[id].sidecar.rps / sums[id].bare.rps;
  // Each round's own ratio; * when either of its runs was disturbed.
  const roundRatios = (id) => throughput[id].bare.map((b, r) => {
    const sc = throughput[id].sidecar[r];
    return `${num(sc.rps / b.rps, 2)}${isDisturbed(b) || isDisturbed(sc) ? '*' : ''}`;
  });
  const limits = Object.fromEntries(CASES.map((c) => [c.id, limitCheck(sums[c.id].bare, sums[c.id].sidecar)]));

  const summaryRows = CASES.map((c) => {
    const s = sums[c.id];
    return [
      c.label, num(s.bare.rps), num(s.sidecar.rps), `**${num(ratio(c.id), 2)}x**`, roundRatios(c.id).join(', '), `${s.bare.used} / ${s.sidecar.used}`,
      num(s.bare.cpuUs, 1), num(s.sidecar.cpuUs, 1), `${num(s.bare.cpuUs / s.sidecar.cpuUs, 2)}x`, limits[c.id][0],
    ];
  });
  const summaryHead = ['case (entities x features)', 'bare requests/s', 'sidecar requests/s', 'per-core ratio sidecar/bare', 'each round', 'runs used (bare / sidecar)', 'bare CPU µs/request', 'sidecar CPU µs/request', 'CPU ratio bare/sidecar', 'limit check (runs used)'];

  const roundRows = CASES.flatMap((c) => throughput[c.id].bare.flatMap((_, r) => SERVERS.map((s) => {
    const w = throughput[c.id][s][r];
    return [
      c.id, r + 1, s, num(w.rps), us(w.p50), us(w.p99), us(w.max), pct(w.serverCpuPct), num(w.serverCpuUsPerRequest, 1),
      pct(w.wrkCpuPct), otherCell(w), num(w.bytesPerResponse), num(w.non2xx + w.errors), quietCell(w.quiet), w.attempts,
    ];
  })));
  const roundHead = ['case', 'round', 'server', 'requests/s', 'p50 µs', 'p99 µs', 'max µs', `server CPU (core ${SERVER_CORE})`, 'server CPU µs/request', `wrk CPU (core ${LOAD_CORE})`, `other processes on core ${SERVER_CORE} / ${LOAD_CORE}`, 'bytes/response', 'non-2xx + errors', 'cores busy just before', 'attempts'];

  const errorsCell = (s) => {
    const n = s.non2xx + s.errors + s.timeouts + s.problems.reduce((a, p) => a + p.count, 0);
    return n === 0 ? `0 (${num(s.deepChecked)} parsed)` : `**${num(n)}**`;
  };
  const fixedRows = FIXED.flatMap((f) => SERVERS.map((server) => {
    const s = fixed[`${f.caseId}@${f.rate}`][server];
    const runs = fixed[`${f.caseId}@${f.rate}`].runs[server];
    const worst = runs.reduce((a, r) => (Math.max(r.otherServerCorePct, r.otherLoadCorePct) > Math.max(a.otherServerCorePct, a.otherLoadCorePct) ? r : a));
    return [`${f.caseId} at ${f.rate}/s`, server, num(s.rps), us(s.p50), us(s.p99), us(s.p999), us(s.max), num(s.count), errorsCell(s), `${pct(s.serverCpuPct)} / ${pct(s.loadGenCpuPct)}`, otherCell(worst)];
  }));
  const fixedHead = ['case (entities x features)', 'server', 'requests/s', 'p50 µs', 'p99 µs', 'p99.9 µs', 'max µs', 'responses', 'non-2xx + errors + bad shape', 'CPU server / autocannon', `other processes on core ${SERVER_CORE} / ${LOAD_CORE} (worst round)`];

  // wrk answers: no non-2xx, no socket errors, and bytes per response within
  // the plausible range of the case's answers (+ headers); an error is far shorter.
  const wrkProblems = CASES.flatMap((c) => SERVERS.flatMap((s) => throughput[c.id][s].flatMap((w, r) => {
    const v = validation[c.id];
    const out = [];
    if (w.non2xx + w.errors) out.push(`${c.id} ${s} round ${r + 1} (wrk): ${w.non2xx} non-2xx, ${w.errors} socket errors or timeouts`);
    if (!(w.bytesPerResponse >= v.lengths[0] * 0.8 && w.bytesPerResponse <= v.lengths.at(-1) * 1.25 + 1024)) {
      out.push(`${c.id} ${s} round ${r + 1} (wrk): ${num(w.bytesPerResponse)} bytes per response, outside the answers' ${num(v.lengths[0])}..${num(v.lengths.at(-1))} (+ headers)`);
    }
    return out;
  })));
  const acProblems = Object.entries(fixed).flatMap(([id, r]) => SERVERS.flatMap((s) => {
    const a = r[s];
    return [
      ...(a.non2xx || a.errors || a.timeouts ? [`${id} ${s}: non-2xx ${a.non2xx}, errors ${a.errors}, timeouts ${a.timeouts}`] : []),
      ...a.problems.map((p) => `${id} ${s}: ${p.count} x ${p.message}`),
    ];
  }));
  const problems = [...wrkProblems, ...acProblems];
  const allGood = problems.length === 0 && CASES.every((c) => validation[c.id].mismatches.length === 0);

  const f1 = fixed['1x20@1000'];
  const f2 = fixed['100x50@200'];
  const ratioTarget = (id) => [
    `${id}: sidecar requests/s >= 70% of bare, per core`,
    `${num(sums[id].sidecar.rps)} / ${num(sums[id].bare.rps)} = ${pct(ratio(id) * 100)} (CPU ratio ${pct((sums[id].bare.cpuUs / sums[id].sidecar.cpuUs) * 100)})${limits[id][1] ? '' : '; **flagged by the limit check**'}`,
    passFail(ratio(id) >= 0.7),
  ];
  const targets = [
    ratioTarget('1x20'),
    ratioTarget('1x50'),
    ['1x20 at 1,000 requests/s: sidecar p99 <= bare p99 + 300 µs', `${us(f1.sidecar.p99)} µs vs ${us(f1.bare.p99)} + 300 = ${us(f1.bare.p99 + 300)} µs`, passFail(f1.sidecar.p99 <= f1.bare.p99 + 300)],
    ['100x50 at 200 requests/s: sidecar p99 < 2,000 µs', `${us(f2.sidecar.p99)} µs (bare ${us(f2.bare.p99)} µs)`, passFail(f2.sidecar.p99 < 2000)],
    ['every response 200 with a plausible answer; validation equal to the in-process API', allGood ? 'yes' : 'no (see below)', passFail(allGood)],
  ];

  const allRuns = [...CASES.flatMap((c) => SERVERS.flatMap((s) => throughput[c.id][s])), ...Object.values(fixed).flatMap((f) => SERVERS.flatMap((s) => f.runs[s]))];
  const quietRuns = allRuns.filter((r) => r.quiet.quiet).length;
  const disturbedRuns = allRuns.filter(isDisturbed).length;
  const retriedRuns = allRuns.filter((r) => r.attempts > 1).length;
  const slowRates = FIXED.flatMap((f) => SERVERS.filter((s) => fixed[`${f.caseId}@${f.rate}`][s].rps < f.rate * 0.95).map((s) =>
    `${f.caseId} at ${f.rate}/s, ${s}: autocannon reached only ${num(fixed[`${f.caseId}@${f.rate}`][s].rps)} requests/s, so its latencies were measured at a lower rate (a busy machine or a server slower than the rate).`));
  const wrkMax = Math.max(...CASES.flatMap((c) => SERVERS.flatMap((s) => throughput[c.id][s].map((w) => w.wrkCpuPct))));
  const sizes = CASES.map((c) => `${c.id}: ${num(validation[c.id].medianLength)} B (range ${num(validation[c.id].lengths[0])}..${num(validation[c.id].lengths.at(-1))})`);
  const metricLines = x.metricsText.split('\n').filter((l) => /lru|tier|served/i.test(l) && !l.startsWith('#')).slice(0, 30);
  const sampleHeaders = validation['1x20'].headers;

  return `# Sidecar benchmark, per core${x.quick ? ' — QUICK smoke run (small data, short runs: not the figures to quote)' : ''}

${machineSection(x.machine, { command: x.command, loadBefore: x.loadBefore, loadAfter: x.loadAfter })}
- Load generators: wrk ${x.tools.wrk} (maximum throughput), autocannon 9 (fixed rate)

## Per-core figures (maximum throughput)

${table(summaryHead, summaryRows)}

Requests/s and CPU µs/request are the medians of each server's undisturbed runs (${size.rounds} round(s) of ${size.roundSec} s per server; "runs used" says how many; a run is disturbed when other processes took more than ${DISTURBED_PCT}% of either core, see "Noise" below); the per-core ratio is the sidecar's median over bare's, and "each round" is each round's own sidecar/bare (its two runs back to back; * when one of them was disturbed), a measure of the machine's noise. CPU µs/request is the server process's user + system time over the run (all its threads, on core ${SERVER_CORE}) divided by the responses: the cost of one request on one core, whatever limited the run. The CPU ratio bare/sidecar is what the throughput ratio would be if both servers were held only by their own CPU.

## Method

- Pinning: the server under test (bare and sidecar, each in its own process, started by \`taskset -c ${SERVER_CORE}\`, so all its threads, GC and libuv's included, share core ${SERVER_CORE}) and the load generator (\`taskset -c ${LOAD_CORE}\`). The bench process itself only starts the children and polls /proc during runs.
- Sidecar: \`${x.commands.sidecar}\` (${x.serveArgs.length ? 'with the extra flags shown' : 'defaults otherwise'}), built CLI, ready ${num(x.sidecarReadyMs / 1000, 1)} s after spawn.
- Bare: \`${x.commands.bare}\`, node:http, reads each request's body and answers fixed bytes: a sidecar answer of the median length for the case (${sizes.join('; ')}) with the sidecar's own answer headers (\`server-timing\`, \`x-larder-*\`, \`content-type\`), so both servers write the same bytes.
- Data: ${num(data.keys)} keys (\`user_id\` int64, 0 .. ${num(data.keys - 1)}); views \`user_20\`, \`user_50\` (int64, float32, float64, string, ~1% nulls in a few) and \`user_5e\` (clicks_7d int64, ctr_7d float32, spend_30d float64, segment string, embedding float32[4]); one bundle, TTL 0, \`${built.path.replace(ROOT, '')}\`, built by ${built.method}${built.reused ? ' (reused from an earlier run)' : ` in ${num(built.buildMs / 1000, 1)} s`}.
- Maximum throughput: \`taskset -c ${LOAD_CORE} wrk -t1 -c${size.connections} -d${size.roundSec}s -s bench/wrk/random-keys.lua <url> -- <prefix> <suffix> <entities> <keys> <seed>\`: one wrk thread, ${size.connections} keep-alive connections (so that the server's queue stays full while wrk, which spends most of a bare server's CPU per request on loopback TCP, keeps headroom on its core), no pipelining. The Lua script makes each request's body afresh with uniformly random keys from 0 .. ${num(data.keys - 1)} (the bundle's keys: the bench checks the bundle holds 0 and ${num(data.keys - 1)} and not ${num(data.keys)} in every view), so no answer repeats a key. Per case: warm-up ${size.warmupSec} s per server, then ${size.rounds} round(s), bare and sidecar alternating, the order flipped each round.
- Noise: other people's work on this shared machine comes in bursts. ${size.quietWaitMs ? `Before each measured run the bench waits up to ${num(size.quietWaitMs / 1000)} s for both cores to be under 25% busy over 500 ms` : 'A quick run does not wait for quiet cores'} (${quietRuns} of ${allRuns.length} runs started so; the others are marked **busy** with the shares they started at), and ${size.attempts > 1 ? `a run during which other processes took more than ${DISTURBED_PCT}% of either core is run again, up to ${size.attempts} attempts, keeping the least disturbed` : `a quick run does not run again a run during which other processes took more than ${DISTURBED_PCT}% of either core`} (${retriedRuns} runs needed more than one attempt; ${disturbedRuns} of ${allRuns.length} kept runs are still marked **disturbed**). "Other processes" is a core's busy share (\`/proc/stat\`) minus the server's or the load generator's own.
- CPU: \`/proc/<pid>/stat\` utime + stime of the server before and after each run (µs/request); the server's and wrk's share of a core, and each core's busy share (\`/proc/stat\`), over the run sampled every 200 ms.
- wrk is not the limit: checked per run from wrk's own CPU (utime + stime of the wrk process, sampled over the run). In this run wrk used at most ${pct(wrkMax)} of core ${LOAD_CORE} in any run; the "limit check" column says for each case whether each server's runs were server-bound (the server >= 85% of core ${SERVER_CORE} while wrk used < 90% of core ${LOAD_CORE} and that core was < 95% busy), and flags the case otherwise. The CPU µs per request do not depend on what limited a run, so the CPU ratio is the per-core figure where a case is flagged. Loopback TCP work is charged to whichever side's core sends, so wrk's CPU includes the kernel's delivery of its requests.
- Latency in the throughput rounds is wrk's (closed loop, ${size.connections} connections: queueing included); the fixed-rate cases below measure latency without queueing.
- Fixed rate: autocannon in \`bench/load-child.mjs\` under \`taskset -c ${LOAD_CORE}\`, \`overallRate\` with 1 connection, ${size.fixedRounds} round(s) of ${size.fixedSec} s per server, alternating; every \`responseTime\` of autocannon's \`response\` event goes into an hdr-histogram-js histogram at 1 µs resolution. autocannon paces by sending each second's quota back to back, then idling until the next second, so "1,000/s" means bursts of sequential requests with no queueing between them.
- Checks: before loading, ${size.samples} answers per case were compared with the in-process \`bundle.getOnlineFeatures\` on the same bundle (the same JSON, except that float32 values, scalars and embedding elements, are written as their shortest decimal, as Feast does, and must read back as the same float32): ${CASES.map((c) => `${c.id} ${validation[c.id].mismatches.length === 0 ? 'all equal' : `${validation[c.id].mismatches.length} differ`}`).join(', ')}. Under wrk: no non-2xx or socket error, and bytes per response within the range of the case's answers (+ headers). Under autocannon: every response 200, of plausible length and Feast's structure (checked on the text), every 32nd (every 256th for 100 entities) parsed and its shape checked.

## Targets (issue 3's, measured per core)

${table(['target', 'measured', 'result'], targets)}

## Maximum throughput, each run

${table(roundHead, roundRows)}

## Fixed rate (autocannon on core ${LOAD_CORE})

${table(fixedHead, fixedRows)}

CPU columns: share of one core used by the server process and by the autocannon process during the measured runs.

## Errors and bad responses

${problems.length ? bullets(problems) : 'None: every response was 200 with a plausible length; every parsed one had the right shape.'}

## Sidecar metrics after the run

\`\`\`
${metricLines.join('\n') || '(no LRU or tier lines in /metrics)'}
\`\`\`

One answer (1x20), headers: \`${JSON.stringify(Object.fromEntries(Object.entries(sampleHeaders).filter(([k]) => k.startsWith('x-larder') || k === 'server-timing')))}\`

## Notes

${bullets([
    ...x.notes,
    ...slowRates,
    `100x50 at 200/s: the bare server's own p99 is ${us(f2.bare.p99)} µs (a ${num(validation['100x50'].medianLength)}-byte answer received and checked by autocannon); the 2 ms target is absolute, so that floor counts against it${f2.bare.p99 >= 2000 ? ': **the bare server itself misses it in this run**' : ''}. The sidecar adds ${us(f2.sidecar.p50 - f2.bare.p50)} µs at p50 and ${us(f2.sidecar.p99 - f2.bare.p99)} µs at p99 over bare.`,
    `Load average before ${x.loadBefore}, after ${x.loadAfter}: other people's work shares the ${x.machine.cores} cores (see "other processes" per run), so absolute figures carry that noise; bare and sidecar alternate so that it falls on both, and the round ratios show its size.`,
    'Before issue 9 this benchmark ran autocannon inside the bench process, unpinned; that load generator filled its core while loading the bare server, so its ratios (e.g. 1x20 at 86% of bare) measured the load generator. The figures here are not comparable with those.',
  ])}
`;
}
