/**
 * `npm run fuzz [-- --cases N] [--seed S] [--workers W] [--case N] [--out F]`:
 * mutates real bundles (raw bytes; bytes with checksums recomputed;
 * the msgpack manifest and layout changed structurally) and judges every
 * case (see engine.ts). Cases run in worker threads; a case stuck past the
 * watchdog is stopped, counted as a hang, and the run goes on. A run of the
 * default size writes bench/results/fuzz.md. Exits 1 when any case found a
 * defect (an error other than a LarderError, a hang, or an accepted bundle
 * whose lookups threw).
 */
import { cpus } from 'node:os';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { type Tally, HANG_MS, emptyTally, generateCase, judge, mergeTally, prepareSeeds } from './engine.js';
import { type Seed, builderSeed, encoderSeeds } from './seeds.js';

const HERE = dirname(fileURLToPath(import.meta.url));
/** The checkout: this file runs as dist/fuzz/run.js. */
const ROOT = resolve(HERE, '..', '..');
const DEFAULT_CASES = 100_000;
/** Cases handed to a worker at a time. */
const CHUNK = 500;
/** A case running this long is stuck: its worker is stopped and replaced. */
const WATCHDOG_MS = 10_000;

const USAGE = `usage: npm run fuzz [-- [--cases N] [--seed S] [--workers W] [--case N] [--out FILE]]
  --cases N     cases to run (default ${DEFAULT_CASES}); a run of at least ${DEFAULT_CASES} writes bench/results/fuzz.md
  --seed S      run seed (default 1): the same seed and case number give the same case
  --workers W   worker threads (default: the number of cores)
  --case N      run only case N and print what it did (replay a defect)
  --out FILE    write the Markdown results to FILE`;

function parseCli(): { cases: number; seed: number; workers: number; replay?: number; out?: string } {
  let values;
  try {
    ({ values } = parseArgs({
      options: { cases: { type: 'string' }, seed: { type: 'string' }, workers: { type: 'string' }, case: { type: 'string' }, out: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
      strict: true,
    }));
  } catch (e) {
    console.error(`fuzz: ${(e as Error).message}\n${USAGE}`);
    process.exit(2);
  }
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const int = (flag: string, raw: string | undefined, fallback: number, min: number): number => {
    if (raw === undefined) return fallback;
    if (!/^\d+$/.test(raw) || Number(raw) < min) {
      console.error(`fuzz: --${flag} must be an integer >= ${min}, got ${JSON.stringify(raw)}\n${USAGE}`);
      process.exit(2);
    }
    return Number(raw);
  };
  return {
    cases: int('cases', values.cases, DEFAULT_CASES, 1),
    seed: int('seed', values.seed, 1, 0),
    workers: int('workers', values.workers, Math.max(1, cpus().length), 1),
    replay: values.case === undefined ? undefined : int('case', values.case, 0, 0),
    out: values.out,
  };
}

async function loadSeeds(): Promise<Seed[]> {
  return [...(await encoderSeeds()), await builderSeed(ROOT)];
}

/** Runs cases [0, cases) over `workers` threads, replacing any worker stuck in a case. */
async function runParallel(seeds: Seed[], runSeed: number, cases: number, workers: number): Promise<Tally> {
  const total = emptyTally();
  const queue: { from: number; to: number }[] = [];
  for (let from = 0; from < cases; from += CHUNK) queue.push({ from, to: Math.min(cases, from + CHUNK) });
  const heartbeat = new SharedArrayBuffer(workers * 2 * 8);
  const beats = new Float64Array(heartbeat);
  const started = Date.now();
  let lastReport = started;

  return new Promise((resolveRun, rejectRun) => {
    let running = 0;
    const start = (slot: number) => {
      const worker = new Worker(join(HERE, 'worker.js'), { workerData: { seeds, runSeed, heartbeat, slot } });
      let current: { from: number; to: number } | undefined;
      running++;
      const next = () => {
        current = queue.shift();
        if (current) worker.postMessage(current);
        else worker.postMessage('stop');
      };
      const watchdog = setInterval(() => {
        const since = beats[slot * 2 + 1]!;
        if (!current || since === 0 || Date.now() - since < WATCHDOG_MS) return;
        const stuck = beats[slot * 2]!;
        const one = emptyTally();
        one.cases = 1;
        one.hangs = 1;
        one.examples.hangs.push({ caseNumber: stuck, strategy: 'raw', seed: '(see --case)', message: `still running after ${WATCHDOG_MS} ms; its worker was stopped` });
        mergeTally(total, one);
        // The stuck range's other cases run again in a new worker.
        if (stuck > current.from) queue.unshift({ from: current.from, to: stuck });
        if (stuck + 1 < current.to) queue.unshift({ from: stuck + 1, to: current.to });
        current = undefined;
        clearInterval(watchdog);
        worker.removeAllListeners('exit');
        void worker.terminate().then(() => {
          running--;
          start(slot);
        });
      }, 250);
      worker.on('message', (msg: 'ready' | { tally: Tally }) => {
        if (msg !== 'ready') {
          mergeTally(total, msg.tally);
          if (Date.now() - lastReport > 5000) {
            lastReport = Date.now();
            const rate = total.cases / ((Date.now() - started) / 1000);
            process.stderr.write(`fuzz: ${total.cases} of ${cases} cases (${rate.toFixed(0)}/s), ${total.accepted} accepted, defects ${total.otherErrors + total.hangs + total.acceptedThenThrew}\n`);
          }
        }
        next();
      });
      worker.on('error', (e) => {
        clearInterval(watchdog);
        rejectRun(e);
      });
      worker.on('exit', () => {
        clearInterval(watchdog);
        running--;
        if (running === 0) resolveRun(total);
      });
    };
    for (let slot = 0; slot < workers; slot++) start(slot);
  });
}

const pct = (n: number, of: number) => (of === 0 ? '0' : ((100 * n) / of).toFixed(2));
const num = (n: number) => n.toLocaleString('en-US');

function markdown(t: Tally, meta: { seed: number; seconds: number; workers: number; seeds: Seed[]; command: string }): string {
  const rejected = Object.values(t.rejected).reduce((a, b) => a + b, 0);
  const verdict = (n: number) => (n === 0 ? '**0 (PASS)**' : `**${num(n)} (FAIL)**`);
  const lines = [
    '# Bundle fuzzer',
    '',
    `\`${meta.command}\` on ${new Date().toISOString().slice(0, 10)}, Node ${process.version}, ${meta.workers} worker thread(s), run seed ${meta.seed}, ${meta.seconds.toFixed(0)} s.`,
    '',
    'Seeds (real bundles): ' + meta.seeds.map((s) => `${s.name} (${num(s.bytes.length)} bytes)`).join('; ') + '.',
    'Each case mutates one seed: **raw** (bytes changed anywhere, checksums left: a damaged file), **checksummed** (bytes of the manifest, layout or data changed, special values written into row records, checksums recomputed), or **structural** (the msgpack manifest and layout decoded, values replaced by other types, deleted, renamed, swapped, copied, lists cut or repeated, packed again with valid checksums). An accepted bundle is read with `get` for every key it holds and a few it does not, `getOnlineFeatures` for every key with every feature of its view (also with `serveStale` and full names), the sidecar\'s JSON writer over the same answer, and every feature service.',
    '',
    '| outcome | cases | share | must be |',
    '| --- | ---: | ---: | --- |',
    `| cases | ${num(t.cases)} | 100% | >= 100,000 |`,
    `| accepted | ${num(t.accepted)} | ${pct(t.accepted, t.cases)}% | |`,
    `| rejected with a LarderError | ${num(rejected)} | ${pct(rejected, t.cases)}% | |`,
    `| any other error | ${verdict(t.otherErrors)} | | 0 |`,
    `| hangs (a case over ${HANG_MS} ms) | ${verdict(t.hangs)} | | 0 |`,
    `| accepted, then a lookup threw | ${verdict(t.acceptedThenThrew)} | | 0 |`,
    '',
    'Rejections by code:',
    '',
    '| code | cases |',
    '| --- | ---: |',
    ...Object.entries(t.rejected).sort((a, b) => b[1] - a[1]).map(([code, n]) => `| ${code} | ${num(n)} |`),
    '',
    'By strategy:',
    '',
    '| strategy | accepted | rejected |',
    '| --- | ---: | ---: |',
    ...(Object.entries(t.byStrategy) as [string, { accepted: number; rejected: number }][]).map(([s, v]) => `| ${s} | ${num(v.accepted)} | ${num(v.rejected)} |`),
    '',
    `Lookups in accepted bundles: ${num(t.keysLookedUp)} keys by \`get\`, ${num(t.keysAnswered)} by \`getOnlineFeatures\`. Slowest case: ${t.slowestMs.toFixed(1)} ms.`,
  ];
  for (const [kind, list] of Object.entries(t.examples)) {
    if (list.length === 0) continue;
    lines.push('', `Examples (${kind}; replay with \`npm run fuzz -- --seed ${meta.seed} --case N\`):`, '');
    for (const d of list) lines.push(`- case ${d.caseNumber} (${d.strategy}, ${d.seed}): ${d.message.replace(/\n/g, ' ')}`);
  }
  return lines.join('\n') + '\n';
}

async function main(): Promise<number> {
  const opts = parseCli();
  const seeds = await loadSeeds();
  if (opts.replay !== undefined) {
    const prepared = await prepareSeeds(seeds);
    const c = await generateCase(prepared, opts.seed, opts.replay);
    const t = emptyTally();
    await judge(c.bytes, { caseNumber: opts.replay, strategy: c.strategy, seed: c.seed }, t);
    console.log(JSON.stringify({ case: opts.replay, strategy: c.strategy, seed: c.seed, bytes: c.bytes.length, tally: t }, null, 2));
    return t.otherErrors + t.hangs + t.acceptedThenThrew > 0 ? 1 : 0;
  }
  const t0 = Date.now();
  const tally = await runParallel(seeds, opts.seed, opts.cases, opts.workers);
  const seconds = (Date.now() - t0) / 1000;
  const command = `npm run fuzz${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`;
  const text = markdown(tally, { seed: opts.seed, seconds, workers: opts.workers, seeds, command });
  console.log(text);
  const out = opts.out ?? (opts.cases >= DEFAULT_CASES ? join(ROOT, 'bench', 'results', 'fuzz.md') : undefined);
  if (out) {
    await mkdir(dirname(out), { recursive: true });
    await writeFile(out, text);
    console.error(`fuzz: wrote ${relative(process.cwd(), out)}`);
  }
  return tally.otherErrors + tally.hangs + tally.acceptedThenThrew > 0 ? 1 : 0;
}

process.exitCode = await main();
