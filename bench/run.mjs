/**
 * `npm run bench [-- <part>...] [--quick]`: the benchmarks of larder.
 *   parts:   builder (issue 2), sidecar (issues 3, 9), redis (issue 10),
 *            training and served-log (issue 11), lifecycle (issue 12);
 *            default all, in that order
 *   --quick  small data and short runs, a smoke check (< 1 minute);
 *            writes bench/results/<part>-quick.md instead of <part>.md
 * Compiles the TypeScript first (dist/ is what the benchmarks import).
 * Generated data lives in bench/.data/ and is reused across runs.
 * A missing tool (wrk, taskset) is reported with how to install it, before
 * any part runs, and exits 1.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { BenchSetupError } from './lib/pinning.mjs';
import { sidecarTools } from './lib/wrk.mjs';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
/** Parts that run as their own script (bench/<part>.mjs [--quick]), each writing bench/results/<part>[-quick].md. */
const SCRIPT_PARTS = ['redis', 'training', 'served-log', 'lifecycle'];
const PARTS = ['builder', 'sidecar', ...SCRIPT_PARTS];
const USAGE = `usage: npm run bench [-- [part ...] [--quick] [--serve-args "<flags>"]]
  parts (default: all, in this order):
  builder     builder benchmark (issue 2): build time vs DuckDB, bytes, open, memory, lookups
  sidecar     serving benchmark, per core: sidecar vs bare node:http, server on core 0, wrk
              (max throughput) or autocannon (fixed rate) on core 1; needs wrk and taskset
  redis       Redis (issue 10): cold reads vs direct MGET, bundle vs Redis-only per core
              (wrk on core 1), materialize keys/s vs direct ioredis writes; needs wrk and taskset
  training    training sets (issue 11) vs DuckDB's own ASOF join
  served-log  per-core cost of --log-served at sample 1.0 (issue 11), servers on core 0, wrk
              on core 1; needs wrk and taskset
  lifecycle   swaps under load, delta size, device-client lookups (issue 12)
  --quick     small data and short runs (a smoke check); results go to *-quick.md
  --serve-args "<flags>"  extra flags for \`larder serve\` in the sidecar part (e.g. "--max-entities 500");
            results go to sidecar-<flags>.md, so settings can be compared`;

let args;
try {
  args = parseArgs({
    options: { quick: { type: 'boolean' }, 'serve-args': { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    allowPositionals: true,
    strict: true,
  });
} catch (e) {
  console.error(`bench: ${e.message}\n${USAGE}`);
  process.exit(2);
}
if (args.values.help) {
  console.log(USAGE);
  process.exit(0);
}
const unknown = args.positionals.filter((p) => !PARTS.includes(p));
if (unknown.length) {
  console.error(`bench: unknown part(s) ${unknown.join(', ')}\n${USAGE}`);
  process.exit(2);
}
const parts = args.positionals.length ? PARTS.filter((p) => args.positionals.includes(p)) : PARTS;
const quick = args.values.quick === true;
const serveArgs = (args.values['serve-args'] ?? '').split(/\s+/).filter(Boolean);
const flags = [...args.positionals, ...(quick ? ['--quick'] : []), ...(serveArgs.length ? [`--serve-args="${serveArgs.join(' ')}"`] : [])];
const command = `npm run bench${flags.length ? ` -- ${flags.join(' ')}` : ''}`;
const log = (msg) => console.error(`[bench] ${msg}`);

// A missing tool should fail now, with how to install it, not minutes in.
try {
  // The parts that pin a server and load it with wrk (their scripts also check when run alone).
  if (parts.some((p) => ['sidecar', 'redis', 'served-log'].includes(p))) sidecarTools();
} catch (e) {
  if (!(e instanceof BenchSetupError)) throw e;
  console.error(`bench: ${e.message}`);
  process.exit(1);
}

log('compiling (tsc -p tsconfig.json) ...');
try {
  execFileSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], { cwd: ROOT, stdio: 'inherit' });
} catch {
  log('tsc reported errors; dist/ was still emitted, benchmarking it anyway');
}

const dataRoot = join(ROOT, 'bench/.data');
const resultsDir = join(ROOT, 'bench/results');
await mkdir(dataRoot, { recursive: true });
await mkdir(resultsDir, { recursive: true });

const started = performance.now();
for (const part of parts) {
  log(`== ${part}${quick ? ' (quick)' : ''} ==`);
  if (SCRIPT_PARTS.includes(part)) {
    const child = spawnSync(process.execPath, [join(ROOT, 'bench', `${part}.mjs`), ...(quick ? ['--quick'] : [])], { cwd: ROOT, stdio: 'inherit' });
    if (child.status !== 0) {
      log(`${part} failed (exit ${child.status ?? child.signal})`);
      process.exitCode = 1;
    }
    continue;
  }
  const mod = part === 'builder' ? await import('./builder.mjs') : await import('./sidecar.mjs');
  const run = part === 'builder' ? mod.runBuilderBench : mod.runSidecarBench;
  await run({ quick, dataRoot, resultsDir, command, log, serveArgs });
}
log(`done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
