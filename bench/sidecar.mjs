/**
 * The serving benchmark, per core: the sidecar (`larder serve`) against a
 * bare node:http server answering the same bytes, each a child process on
 * 127.0.0.1 pinned to core 0; the load generator pinned to core 1, so the
 * figures are what one core of server does, never the load generator's
 * limit.
 *
 * - Maximum throughput (1x5 with a float32[4] embedding, 1x20, 1x50, 10x50,
 *   100x50; entities x features): wrk with wrk/random-keys.lua (fresh random
 *   keys per request), rounds alternating bare and sidecar. Requests/s, the
 *   per-core ratio, and server CPU µs per request from /proc/<pid>/stat.
 * - Fixed rate (1x20 at 1,000/s, 100x50 at 200/s): autocannon in
 *   load-child.mjs, every response time in an HDR histogram (µs).
 */
import { answerHeaders, bareChannel } from './lib/bare.mjs';
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { openBundle } from '../dist/src/index.js';
import { ROOT, CLI, ensureBundle } from './lib/bundles.mjs';
import { CASES, FIXED, bodyMaker, bodyParts, caseById } from './lib/cases.mjs';
import { freePort, runJsonChild, waitForOk } from './lib/children.mjs';
import { servingDataset } from './lib/datasets.mjs';
import { summarize } from './lib/load.mjs';
import { describeMachine, loadAverage } from './lib/machine.mjs';
import { LOAD_CORE, SERVER_CORE, disturbance, isDisturbed, pinned, waitForQuiet, withCoreShares } from './lib/pinning.mjs';
import { renderSidecarReport } from './lib/sidecar-report.mjs';
import { runWrk, sidecarTools } from './lib/wrk.mjs';

const SIZES = {
  full: { keys: 1_000_000, warmupSec: 2, rounds: 3, roundSec: 5, fixedRounds: 2, fixedSec: 10, connections: 32, samples: 100, quietWaitMs: 10_000, attempts: 3 },
  quick: { keys: 50_000, warmupSec: 1, rounds: 1, roundSec: 1, fixedRounds: 1, fixedSec: 1.5, connections: 32, samples: 20, quietWaitMs: 0, attempts: 1 },
};

/**
 * One POST /get-online-features. A read, so it is sent again once when the
 * pooled keep-alive socket turns out closed (the server's keep-alive timeout
 * can close it while the bench opens the bundle in process).
 */
async function post(url, body, retried = false) {
  try {
    const res = await fetch(`${url}/get-online-features`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    return { status: res.status, text: await res.text(), headers: res.headers };
  } catch (e) {
    if (retried || !['UND_ERR_SOCKET', 'ECONNRESET'].includes(e.cause?.code)) throw e;
    return post(url, body, true);
  }
}

/**
 * The sidecar's answer as the in-process API's object, when they agree:
 * float32 values (scalars and float32[] elements), which the sidecar writes
 * as their shortest decimal (Feast's JSON), must read back as the in-process
 * float32 exactly.
 */
function asInProcess(text, expected, request, bundle) {
  let parsed;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  const same = (got, want) => typeof got === 'number' && typeof want === 'number' && Math.fround(got) === want;
  const joinKeys = Object.keys(request.entities).length;
  request.features.forEach((ref, f) => {
    const { view, featureIndex } = bundle.catalog.refs.get(ref);
    const dtype = view.features[featureIndex].dtype;
    if (dtype !== 'float32' && dtype !== 'float32[]') return;
    const got = parsed.results?.[joinKeys + f]?.values;
    const want = expected.results[joinKeys + f].values;
    if (!Array.isArray(got) || got.length !== want.length) return;
    for (let i = 0; i < want.length; i++) {
      if (dtype === 'float32' && same(got[i], want[i])) got[i] = want[i];
      if (dtype === 'float32[]' && Array.isArray(got[i]) && want[i] && got[i].length === want[i].length) {
        for (let j = 0; j < want[i].length; j++) if (same(got[i][j], want[i][j])) got[i][j] = want[i][j];
      }
    }
  });
  return JSON.stringify(parsed);
}

/**
 * Checks the sidecar's answers for `samples` bodies against the in-process
 * API on the same bundle (the same JSON, float32 values read back as the
 * same float32); returns the answer lengths, the answer of median length
 * and the sidecar's answer headers, which the bare server then sends.
 */
async function validate(url, bundle, nextBody, samples) {
  const answers = [];
  const mismatches = [];
  let headers;
  for (let i = 0; i < samples; i++) {
    const body = nextBody();
    const r = await post(url, body);
    const request = JSON.parse(body.toString());
    const inProcess = bundle.getOnlineFeatures(request);
    const expected = JSON.stringify(inProcess);
    if (r.status !== 200 || asInProcess(r.text, inProcess, request, bundle) !== expected) {
      mismatches.push(mismatches.length < 3 ? `status ${r.status}, got ${r.text.slice(0, 300)} expected ${expected.slice(0, 300)}` : '');
    }
    answers.push(r.text);
    headers ??= answerHeaders(r.headers);
  }
  answers.sort((a, b) => a.length - b.length);
  const median = answers[answers.length >> 1];
  return { lengths: answers.map((a) => a.length), medianLength: median.length, median, mismatches, headers };
}

/**
 * Keys are drawn from 0 .. keys-1 (cases.mjs): the bundle must hold exactly
 * those, checked at both ends and one past the end, in every view.
 */
function checkKeyRange(bundle, data) {
  for (const view of new Set(Object.values(data.views))) {
    const has = (k) => bundle.get(view, k) !== undefined;
    if (!has(0) || !has(data.keys - 1) || has(data.keys)) {
      throw new Error(`bundle view ${view} does not hold exactly the keys 0 .. ${data.keys - 1}, which the load generators draw from`);
    }
  }
}

/** A child process pinned to the server's core; `ipc` adds a message channel (the bare server's). */
function startPinned(args, { ipc = false } = {}) {
  const [cmd, argv] = pinned(SERVER_CORE, process.execPath, args);
  const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe', ...(ipc ? ['ipc'] : [])] });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  let exited = false;
  child.on('exit', () => (exited = true));
  return { child, output: () => output, alive: () => !exited, command: `${cmd} ${argv.join(' ')}`.replace(process.execPath, 'node').replaceAll(ROOT, '') };
}

function startBare(port) {
  const s = startPinned([join(ROOT, 'bench/bare-server.mjs'), String(port)], { ipc: true });
  return { ...s, ...bareChannel(s.child, s.output), url: `http://127.0.0.1:${port}` };
}

function startSidecar(bundlesDir, port, extraArgs) {
  const s = startPinned([CLI, 'serve', '--bundles', bundlesDir, '--port', String(port), '--host', '127.0.0.1', ...extraArgs]);
  return { ...s, url: `http://127.0.0.1:${port}` };
}

function stop(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 10_000).unref();
  });
}

/**
 * Bare and sidecar in turn, the order flipped each round, so the machine's
 * noise falls on both. Other people's work on this shared machine comes in
 * bursts: each run first waits (at most size.quietWaitMs) for quiet cores,
 * and a run during which other processes took more than DISTURBED_PCT of
 * either core is run again, up to size.attempts times in all, keeping the
 * least disturbed. Each kept run records `quiet` (the cores before it) and
 * `attempts`.
 */
async function alternate(size, rounds, log, label, runOne) {
  const runs = { bare: [], sidecar: [] };
  for (let r = 0; r < rounds; r++) {
    for (const s of r % 2 === 0 ? ['bare', 'sidecar'] : ['sidecar', 'bare']) {
      let best;
      let made = 0;
      for (let attempt = 1; attempt <= size.attempts; attempt++) {
        made = attempt;
        const quiet = await waitForQuiet({ maxWaitMs: size.quietWaitMs });
        const waited = quiet.waitedMs > 1000 ? ` after waiting ${(quiet.waitedMs / 1000).toFixed(0)} s for quiet cores` : '';
        log(`  ${label} round ${r + 1}/${rounds}: ${s}${attempt > 1 ? ` (attempt ${attempt})` : ''}${waited}${quiet.quiet ? '' : ` (cores still ${quiet.busy.map((b) => b.toFixed(0)).join('%, ')}% busy)`}`);
        const run = { ...(await runOne(s)), quiet };
        if (!best || disturbance(run) < disturbance(best)) best = run;
        if (!isDisturbed(run)) break;
        log(`    other processes took ${run.otherServerCorePct.toFixed(0)}% of core ${SERVER_CORE} and ${run.otherLoadCorePct.toFixed(0)}% of core ${LOAD_CORE}`);
      }
      runs[s].push({ ...best, attempts: made });
    }
  }
  return runs;
}

/**
 * @param {object} o
 * @param {string[]} [o.serveArgs]  extra `larder serve` flags (e.g. --max-entities 500), to compare settings
 */
export async function runSidecarBench({ quick, dataRoot, resultsDir, command, log, serveArgs = [] }) {
  const tools = sidecarTools();
  const size = quick ? SIZES.quick : SIZES.full;
  const loadBefore = loadAverage();
  const machine = describeMachine(ROOT);
  const data = await servingDataset(dataRoot, { keys: size.keys }, log);
  const built = await ensureBundle(data.repo, join(data.dir, 'bundles'), { log });
  log(`bundle ${built.path}`);

  const [barePort, sidecarPort] = [await freePort(), await freePort()];
  const bare = startBare(barePort);
  const sidecar = startSidecar(join(data.dir, 'bundles'), sidecarPort, serveArgs);
  // If this process dies or is interrupted, its servers must not outlive it.
  const killServers = () => {
    bare.child.kill('SIGKILL');
    sidecar.child.kill('SIGKILL');
  };
  const onSignal = (signal) => {
    killServers();
    process.kill(process.pid, signal);
  };
  process.once('exit', killServers);
  for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, onSignal);
  const notes = [];
  try {
    await bare.ready;
    const t0 = performance.now();
    await waitForOk(`${sidecar.url}/ready`, 300_000, sidecar.alive);
    const sidecarReadyMs = performance.now() - t0;
    log(`sidecar ready after ${(sidecarReadyMs / 1000).toFixed(1)} s; bare server on ${bare.url}; both on core ${SERVER_CORE}`);

    // The same bundle, in process, for the byte-for-byte validation.
    const bundle = await openBundle(built.path);
    checkKeyRange(bundle, data);
    const validation = {};
    const parts = {};
    for (const c of CASES) {
      parts[c.id] = bodyParts(data, c);
      validation[c.id] = await validate(sidecar.url, bundle, bodyMaker(parts[c.id]), size.samples);
      const v = validation[c.id];
      if (v.mismatches.length) notes.push(`Validation ${c.id}: ${v.mismatches.length} answers differ from the in-process API; first: ${v.mismatches[0]}`);
    }
    const pids = { bare: bare.child.pid, sidecar: sidecar.child.pid };
    const urls = { bare: bare.url, sidecar: sidecar.url };
    // Lengths vary with the values; an error body is far shorter.
    const bodyLength = (c) => ({ min: Math.floor(validation[c.id].lengths[0] * 0.8), max: Math.ceil(validation[c.id].lengths.at(-1) * 1.25) });
    const answerAs = (c) => bare.setAnswer(validation[c.id].median, validation[c.id].headers);

    const throughput = {};
    for (const c of CASES) {
      log(`max throughput ${c.id}: wrk, ${size.connections} connections, on core ${LOAD_CORE}`);
      await answerAs(c);
      const wrk = (s, durationSec) => runWrk({ url: urls[s], parts: parts[c.id], connections: size.connections, durationSec, serverPid: pids[s] });
      for (const s of ['bare', 'sidecar']) await wrk(s, size.warmupSec);
      throughput[c.id] = await alternate(size, size.rounds, log, c.id, (s) => wrk(s, size.roundSec));
    }

    const fixed = {};
    for (const f of FIXED) {
      const c = caseById(f.caseId);
      log(`fixed rate ${c.id} at ${f.rate}/s: autocannon on core ${LOAD_CORE}`);
      await answerAs(c);
      // One connection: autocannon paces by a per-connection quota per second,
      // sent back to back; with several connections the quota bursts would
      // queue behind each other and measure the burst, not the rate.
      const spec = (s) => ({
        url: urls[s], parts: parts[c.id], case: { id: c.id, entities: c.entities, features: c.features },
        bodyLength: bodyLength(c), durationSec: size.fixedSec, connections: 1, overallRate: f.rate, serverPid: pids[s],
      });
      const runs = await alternate(size, size.fixedRounds, log, `${c.id} @${f.rate}/s`, async (s) => {
        const run = await withCoreShares(pids[s], () => runJsonChild(join(ROOT, 'bench/load-child.mjs'), [JSON.stringify(spec(s))], { cwd: ROOT, core: LOAD_CORE }));
        return {
          ...run,
          otherServerCorePct: Math.max(0, run.serverCoreBusyPct - run.serverCpuPctOfRun),
          otherLoadCorePct: Math.max(0, run.loadCoreBusyPct - run.loadGenCpuPct),
        };
      });
      fixed[`${c.id}@${f.rate}`] = { bare: summarize(runs.bare), sidecar: summarize(runs.sidecar), runs };
    }

    const metricsText = await (await fetch(`${sidecar.url}/metrics`)).text();
    const report = renderSidecarReport({
      serveArgs, size, quick, machine, tools, command, loadBefore, loadAfter: loadAverage(), data, built,
      commands: { sidecar: sidecar.command, bare: bare.command }, sidecarReadyMs, validation, throughput, fixed, notes, metricsText,
    });
    // Runs with extra serve flags are comparisons: they do not replace sidecar.md.
    const suffix = serveArgs.length ? `-${serveArgs.join(' ').replace(/[^a-z0-9]+/gi, '-').replace(/^-|-$/g, '')}` : '';
    const file = join(resultsDir, `sidecar${suffix}${quick ? '-quick' : ''}.md`);
    await writeFile(file, report);
    log(`wrote ${file}`);
    return { file, throughput, fixed };
  } catch (e) {
    for (const s of [sidecar, bare]) if (s.output()) log(`${s === bare ? 'bare server' : 'sidecar'} output:\n${s.output().slice(-3000)}`);
    throw e;
  } finally {
    await Promise.all([stop(bare.child), stop(sidecar.child)]);
    process.off('exit', killServers);
    for (const signal of ['SIGINT', 'SIGTERM']) process.off(signal, onSignal);
  }
}
