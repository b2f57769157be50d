/**
 * Issue 2's builder benchmark, in one run: on a generated repo of `keys`
 * users x 20 features from `keys x rowsPerKey` Parquet rows,
 *   - DuckDB alone computing the as-of snapshot (the baseline),
 *   - the full build (bundle-builder's buildBundle),
 *   - bundle bytes, time to open it, memory the open bundle adds,
 *   - in-process lookup ns per entity (1 entity x 20 features).
 * Each measurement runs in a fresh child process.
 */
import { rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ROOT, builderApi, newestBundle } from './lib/bundles.mjs';
import { runJsonChild } from './lib/children.mjs';
import { builderDataset } from './lib/datasets.mjs';
import { describeMachine, loadAverage, machineSection } from './lib/machine.mjs';
import { bullets, table } from './lib/markdown.mjs';
import { max, median, mib, min, num, passFail } from './lib/stats.mjs';

const SIZES = {
  full: { keys: 1_000_000, rowsPerKey: 10, queryRuns: 2, openTimes: 5, lookupRounds: 7, lookupsPerRound: 2_000_000 },
  quick: { keys: 50_000, rowsPerKey: 10, queryRuns: 1, openTimes: 3, lookupRounds: 3, lookupsPerRound: 300_000 },
};

/** `probe` modes run bench/bundle-probe.mjs; `query` and `build` run bench/builder-child.mjs. */
const child = (mode, args, nodeArgs = []) => mode === 'probe'
  ? runJsonChild(join(ROOT, 'bench/bundle-probe.mjs'), args, { nodeArgs, cwd: ROOT })
  : runJsonChild(join(ROOT, 'bench/builder-child.mjs'), [mode, ...args], { nodeArgs, cwd: ROOT });

export async function runBuilderBench({ quick, dataRoot, resultsDir, command, log }) {
  const size = quick ? SIZES.quick : SIZES.full;
  const loadBefore = loadAverage();
  const machine = describeMachine(ROOT);
  const data = await builderDataset(dataRoot, size, log);
  const notes = [];
  const asOfIso = data.asOf.toISOString();

  // 1. DuckDB alone (first run also warms the page cache for the build).
  const queries = [];
  for (let i = 0; i < size.queryRuns; i++) {
    log(`DuckDB snapshot query, run ${i + 1}/${size.queryRuns} ...`);
    queries.push(await child('query', [data.repo, asOfIso]));
    log(`  ${num(queries.at(-1).ms)} ms, ${num(queries.at(-1).rows)} rows`);
  }
  const queryMs = min(queries.map((q) => q.ms));
  // A reference: the smallest query that computes the same snapshot.
  log('minimal QUALIFY snapshot query (reference) ...');
  const plain = await child('plainquery', [data.repo, asOfIso]);
  log(`  ${num(plain.ms)} ms, ${num(plain.rows)} rows`);

  // 2. The full build.
  const outDir = join(data.dir, 'out');
  await rm(outDir, { recursive: true, force: true });
  if (!(await builderApi())) throw new Error('dist/bundle-builder/build.js is missing: run npm run build first');
  log('building with bundle-builder buildBundle ...');
  const build = await child('build', [data.repo, outDir, asOfIso]);
  build.method = 'bundle-builder buildBundle (programmatic)';
  log(`  build ${num(build.ms)} ms`);
  const bundlePath = await newestBundle(outDir);
  const fileBytes = (await stat(bundlePath)).size;

  // 3. Open, memory, lookups: fresh processes.
  log('open times ...');
  const open = await child('probe', ['open', bundlePath, String(size.openTimes)], ['--expose-gc']);
  log('memory ...');
  const memory = await child('probe', ['memory', bundlePath], ['--expose-gc']);
  log('lookups ...');
  const lookup = await child('probe', ['lookup', bundlePath, data.view, String(data.keys), String(size.lookupRounds), String(size.lookupsPerRound)]);

  const report = render({ quick, size, machine, command, loadBefore, loadAfter: loadAverage(), data, queries, queryMs, plain, build, bundlePath, fileBytes, open, memory, lookup, notes });
  const file = join(resultsDir, quick ? 'builder-quick.md' : 'builder.md');
  await writeFile(file, report);
  log(`wrote ${file}`);
  return { file };
}

/** What each of buildBundle's timings covers (from bundle-builder/build.ts). */
const PHASES = {
  readSeconds: 'config, source schemas, counting source rows',
  snapshotSeconds: 'DuckDB as-of snapshot into a temp table (the statement snapshotQueryTime times)',
  convertSeconds: 'snapshot rows from DuckDB into JS columns',
  encodeSeconds: 'encodeBundle: row records, key index, statistics, SHA-256',
  writeSeconds: 'atomic write of bundle and manifest',
};

function render(x) {
  const { size, data, queries, queryMs, build, fileBytes, open, memory, lookup } = x;
  const openMedian = median(open.openMs);
  const rss = memory.delta.rss;
  const heapExt = memory.delta.heapUsed + memory.delta.external;
  const l = lookup.ns;
  const ratio = build.ms / queryMs;
  const phases = build.result?.timings;

  const targets = [
    ['lookup, 1 entity x 20 features, `bundle.get` (median ns)', `${num(median(l.get), 0)} ns`, '<= 1,000 ns', passFail(median(l.get) <= 1000)],
    ['lookup, 1 entity x 20 features, `view.row(view.rowOf(k))` (median ns)', `${num(median(l.row), 0)} ns`, '<= 1,000 ns', passFail(median(l.row) <= 1000)],
    ['open (`openBundle`, median of ' + open.openMs.length + ')', `${num(openMedian)} ms`, '<= 2,000 ms', passFail(openMedian <= 2000)],
    ['memory the open bundle adds (RSS, 1 s after open, after GC)', `${mib(rss)} = ${num(rss / fileBytes, 2)}x file`, '<= 2x file size', passFail(rss <= 2 * fileBytes)],
    ['build time / DuckDB snapshot query time', `${num(build.ms)} ms / ${num(queryMs)} ms = ${num(ratio, 2)}x`, '<= 5x', passFail(ratio <= 5)],
  ];

  const lookupRows = [
    ['`bundle.get(view, key)` -> { feature: value }', l.get],
    ['`view.row(view.rowOf(key))` -> { eventTsMs, values[] }', l.row],
    ['`view.rowOf(key)` only (hash probe, diagnostic)', l.rowOf],
    ['loop and key fetch only (harness overhead, diagnostic)', l.loopOnly],
    ['`bundle.getOnlineFeatures` 1 entity x 20, Feast response (diagnostic)', l.getOnlineFeatures],
  ].map(([what, xs]) => [what, num(median(xs), 1), num(min(xs), 1), num(max(xs), 1), xs.map((v) => num(v, 0)).join(', ')]);

  const mem = ['rss', 'heapUsed', 'external', 'arrayBuffers'].map((k) => [k, mib(memory.before[k]), mib(memory.justAfter[k]), mib(memory.after[k]), mib(memory.delta[k]), `${num(memory.delta[k] / fileBytes, 2)}x`]);
  const peakAdded = memory.peakRss - memory.before.rss;

  return `# Builder benchmark (issue 2)${x.quick ? ' — QUICK smoke run (small data: not the acceptance figures)' : ''}

${machineSection(x.machine, { command: x.command, loadBefore: x.loadBefore, loadAfter: x.loadAfter })}

## Data

- Repo: \`${data.repo.replace(ROOT, '')}\` (generated by bench/lib/datasets.mjs${data.generatedMs ? ` in ${num(data.generatedMs / 1000, 1)} s this run` : ', reused from an earlier run'}).
- Source: one Parquet file (zstd), ${num(data.rows)} rows, ${num(data.keys)} keys (\`user_id\` int64), ${size.rowsPerKey} rows per key one hour apart with up to an hour of jitter.
- View \`${data.view}\`: 20 features (6 int64, 4 float32, 6 float64, 4 string; about 1% nulls in 4 of them), TTL 0.
- As of ${data.asOf.toISOString()}: the last row of every key and half of the second-to-last are in the future, so the snapshot filters ~15% of rows and picks the latest of the ~8.5 visible rows per key.

## Targets

${table(['question', 'measured', 'target', 'result'], targets)}

## Build

${table(['step', 'time', 'detail'], [
    ...queries.map((q, i) => [`DuckDB alone: snapshot query, run ${i + 1}`, `${num(q.ms)} ms`, `${q.how}; ${num(q.rows)} rows; child peak RSS ${mib(q.maxRssBytes)}`]),
    [`reference: minimal QUALIFY query (not the target's baseline)`, `${num(x.plain.ms)} ms`, `${x.plain.how}; ${num(x.plain.rows)} rows; build / this = ${num(build.ms / x.plain.ms, 2)}x`],
    ['full build', `${num(build.ms)} ms`, `${build.method}${build.maxRssBytes ? `; child peak RSS ${mib(build.maxRssBytes)}` : ''}`],
    ...(phases ? Object.entries(phases).map(([k, v]) => [`build phase: ${k.replace(/Seconds$/, '')}`, `${num(v * 1000)} ms`, PHASES[k] ?? '']) : []),
  ])}

The ratio uses the fastest DuckDB run${queries.length > 1 ? ' (the first run also warms the page cache)' : ''}. Both run in fresh child processes with DuckDB's default thread count (${x.machine.cores} here).

${build.result ? `buildBundle's summary: \`${JSON.stringify({ bytes: build.result.bytes, seconds: build.result.seconds, views: build.result.views, warnings: build.result.warnings })}\`` : ''}

## Bundle

- File: \`${x.bundlePath.replace(ROOT, '')}\`, ${num(fileBytes)} bytes (${mib(fileBytes)}), ${num(fileBytes / data.keys, 1)} bytes per key.
- Open times (ms, fresh process, GC before each): ${open.openMs.map((v) => num(v)).join(', ')}; median ${num(openMedian)} ms. \`openBundle\` reads the file, checks both SHA-256 sums and the key table, heap and dictionary references, and maps typed arrays.

### Memory the open bundle adds

Fresh process (\`node --expose-gc\`), larder imported first; \`process.memoryUsage()\` after two GCs: before \`openBundle\`, just after it, and 1 s later (the settled figure the target is judged on).

${table(['measure', 'before', 'just after open', '1 s later', 'added (settled)', 'added / file size'], mem)}

Peak RSS while opening (the process's high-water mark minus the RSS before): ${mib(peakAdded)} = ${num(peakAdded / fileBytes, 2)}x the file. Just after \`openBundle\` resolves, RSS is up ${mib(memory.deltaJustAfter.rss)} (${num(memory.deltaJustAfter.rss / fileBytes, 2)}x): \`openBundle\` hashes with node:crypto, which reads the bytes in place (WebCrypto's \`crypto.subtle.digest\`, the runtime-agnostic default of \`Bundle.decode\`, copies its whole input, which doubled the peak).

## In-process lookups, 1 entity x 20 features

Fresh process; 2^20 pre-made key strings drawn uniformly from all ${num(data.keys)} keys; ${x.size.lookupRounds} timed rounds of ${num(lookup.perRound)} lookups per path after one untimed warm-up round, paths interleaved round by round; results stored into a ring of 16 so the reads cannot be optimised away (getOnlineFeatures rounds are 1/8 as long).

${table(['path', 'median ns/entity', 'min', 'max', 'rounds'], lookupRows)}

Sample \`bundle.get\` result: \`${JSON.stringify(lookup.sample)}\`

## Notes

${bullets([
    ...x.notes,
    `Load average before ${x.loadBefore}, after ${x.loadAfter}: the ${x.machine.cores} cores were shared with other helpers' work, so times carry that noise.`,
  ])}
`;
}
