/**
 * Measures an open bundle in a fresh process (spawned by builder.mjs), and
 * prints one JSON line. Modes:
 *
 *   open <bundle> <times>                time of each openBundle call
 *   memory <bundle>                      memory one open bundle adds (needs --expose-gc)
 *   lookup <bundle> <view> <keyCount> <rounds> <lookupsPerRound>
 *                                        ns per entity for in-process reads
 *
 * Lookups read random keys across all `keyCount` keys (the generated keys are
 * 0 .. keyCount-1), from key strings made before timing starts.
 */
import { openBundle } from '../dist/src/index.js';

const [mode, bundlePath, ...rest] = process.argv.slice(2);
const gc = globalThis.gc ?? (() => {});
const nowNs = () => process.hrtime.bigint();

function fullGc() {
  // Two passes: the first can leave weakly held objects for the second.
  gc();
  gc();
}

async function measureOpen(times) {
  const ms = [];
  for (let i = 0; i < times; i++) {
    fullGc();
    const t0 = nowNs();
    const bundle = await openBundle(bundlePath);
    ms.push(Number(nowNs() - t0) / 1e6);
    if (bundle.version < 0) throw new Error('unreachable');
  }
  return { openMs: ms };
}

async function measureMemory() {
  if (!globalThis.gc) throw new Error('memory mode needs node --expose-gc');
  const usage = () => process.memoryUsage();
  const diff = (a, b) => Object.fromEntries(Object.keys(a).map((k) => [k, b[k] - a[k]]));
  fullGc();
  const before = usage();
  const bundle = await openBundle(bundlePath);
  fullGc();
  const justAfter = usage();
  // Work that openBundle started may free its buffers a moment later (the
  // WebCrypto digest's copy of its input, for one): settle, then measure.
  await new Promise((r) => setTimeout(r, 1000));
  fullGc();
  const after = usage();
  return {
    before,
    justAfter,
    after,
    delta: diff(before, after),
    deltaJustAfter: diff(before, justAfter),
    // The process's high-water RSS: the peak while opening.
    peakRss: process.resourceUsage().maxRSS * 1024,
    fileBytes: bundle.byteLength,
    keys: bundle.manifest.views.map((v) => v.keyCount),
  };
}

/**
 * A ring the results go to, so that the optimiser cannot drop the reads.
 * Small: results kept longer would survive young-generation GCs and be
 * promoted, adding GC work that a caller dropping its results never pays.
 */
const RING = Number(process.env.BENCH_RING ?? 16);
const RING_MASK = RING - 1;
const sink = new Array(RING).fill(null);

function timeGet(bundle, viewName, keys, n) {
  const mask = keys.length - 1;
  const t0 = nowNs();
  for (let i = 0; i < n; i++) sink[i & RING_MASK] = bundle.get(viewName, keys[i & mask]);
  return Number(nowNs() - t0) / n;
}

function timeRow(view, keys, n) {
  const mask = keys.length - 1;
  const t0 = nowNs();
  for (let i = 0; i < n; i++) sink[i & RING_MASK] = view.row(view.rowOf(keys[i & mask]));
  return Number(nowNs() - t0) / n;
}

function timeRowOf(view, keys, n) {
  const mask = keys.length - 1;
  let acc = 0;
  const t0 = nowNs();
  for (let i = 0; i < n; i++) acc += view.rowOf(keys[i & mask]);
  const ns = Number(nowNs() - t0) / n;
  sink[0] = acc;
  return ns;
}

function timeLoopOnly(keys, n) {
  const mask = keys.length - 1;
  const t0 = nowNs();
  for (let i = 0; i < n; i++) sink[i & RING_MASK] = keys[i & mask];
  return Number(nowNs() - t0) / n;
}

function timeOnline(bundle, bodies, n) {
  const mask = bodies.length - 1;
  const now = new Date();
  const t0 = nowNs();
  for (let i = 0; i < n; i++) sink[i & RING_MASK] = bundle.getOnlineFeatures(bodies[i & mask], { now });
  return Number(nowNs() - t0) / n;
}

async function measureLookup(viewName, keyCount, rounds, perRound) {
  const bundle = await openBundle(bundlePath);
  const view = bundle.view(viewName);
  if (!view) throw new Error(`bundle has no view ${viewName}`);
  if (view.keyCount !== keyCount) throw new Error(`view ${viewName} holds ${view.keyCount} keys, expected ${keyCount}`);
  // 2^20 random keys (a power of two, so the loop index is masked, not divided).
  const keys = new Array(1 << 20);
  for (let i = 0; i < keys.length; i++) keys[i] = String(Math.floor(Math.random() * keyCount));
  const spec = bundle.catalog.views.get(viewName);
  const joinKey = spec.joinKeys[0].name;
  const features = spec.features.map((f) => `${viewName}:${f.name}`);
  const bodies = new Array(1 << 16);
  for (let i = 0; i < bodies.length; i++) bodies[i] = { features, entities: { [joinKey]: [Number(keys[i])] } };

  // Every key must be found, and both paths must agree.
  for (let i = 0; i < 1000; i++) {
    const o = bundle.get(viewName, keys[i]);
    const r = view.row(view.rowOf(keys[i]));
    if (!o) throw new Error(`key ${keys[i]} not found`);
    spec.features.forEach((f, j) => {
      if (!Object.is(o[f.name], r.values[j])) throw new Error(`get and row disagree on key ${keys[i]}, ${f.name}`);
    });
  }

  const paths = {
    get: () => timeGet(bundle, viewName, keys, perRound),
    row: () => timeRow(view, keys, perRound),
    rowOf: () => timeRowOf(view, keys, perRound),
    loopOnly: () => timeLoopOnly(keys, perRound),
    getOnlineFeatures: () => timeOnline(bundle, bodies, Math.max(1, perRound >> 3)),
  };
  // One untimed warm-up round (JIT), then `rounds` timed rounds with the
  // paths interleaved, so that noise from other processes hits them all.
  for (const run of Object.values(paths)) run();
  const ns = Object.fromEntries(Object.keys(paths).map((k) => [k, []]));
  for (let r = 0; r < rounds; r++) for (const [k, run] of Object.entries(paths)) ns[k].push(run());
  return { ns, perRound, rounds, features: spec.features.length, sample: bundle.get(viewName, keys[0]) };
}

let result;
if (mode === 'open') result = await measureOpen(Number(rest[0] ?? 5));
else if (mode === 'memory') result = await measureMemory();
else if (mode === 'lookup') result = await measureLookup(rest[0], Number(rest[1]), Number(rest[2]), Number(rest[3]));
else throw new Error(`unknown mode ${mode}`);
process.stdout.write(`${JSON.stringify(result)}\n`);
