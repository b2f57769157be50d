/**
 * `node bench/lifecycle.mjs [--quick]` (after `npx tsc -p tsconfig.json`):
 * the bundle lifecycle of issue 12, written to bench/results/lifecycle[-quick].md.
 *
 * 1. Swaps under load: a `larder serve` child on a folder; 16 concurrent
 *    keep-alive clients for D seconds without swaps, then D seconds while a
 *    new signed bundle lands every 500 ms. Latency percentiles of both
 *    windows, errors, and each swap's time from the file's rename to the
 *    first response tagged with its version.
 * 2. Deltas: a 1% change of a bundle of N users, delta bytes against full.
 * 3. The device client: a lookup (store.get, and getOnlineFeatures of one
 *    entity) in Node and in headless Chromium.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import hdr from 'hdr-histogram-js';
import { build } from 'esbuild';
import { ROOT, CLI } from './lib/bundles.mjs';
import { freePort, waitForOk } from './lib/children.mjs';
import { table } from './lib/markdown.mjs';

const quick = process.argv.includes('--quick');
const USERS = quick ? 20_000 : 200_000;
const WINDOW_S = quick ? 3 : 10;
const log = (m) => console.error(`[lifecycle] ${m}`);

const core = await import(join(ROOT, 'dist/src/core/index.js'));
const { signBundle, generateSigningKeyPair } = await import(join(ROOT, 'dist/src/core/sign/signature.js'));
const { diffBundles } = await import(join(ROOT, 'dist/src/core/bundle/delta.js'));
const { createDeviceStore } = await import(join(ROOT, 'dist/src/client/index.js'));

const repo = core.defineRepo({
  project: 'bench', entities: [{ name: 'user', joinKeys: ['user_id'] }], sources: [{ name: 's', path: 'x.parquet', timestampField: 'ts' }],
  featureViews: [{ name: 'stats', entities: ['user'], source: 's', ttlSeconds: 0, features: [
    { name: 'clicks', dtype: 'int64' }, { name: 'score', dtype: 'float64' }, { name: 'rate', dtype: 'float32' }, { name: 'country', dtype: 'string' },
  ] }],
});
const T = Date.UTC(2026, 0, 1);
function bundleOf(version, changedEvery = 0) {
  const changed = (i) => changedEvery > 0 && i % changedEvery === 0;
  return core.encodeBundle({
    project: 'bench', version, parentVersion: version > 1 ? version - 1 : null, createdAt: new Date(T + version * 1000), asOf: new Date(T), repo,
    views: [{
      name: 'stats', joinKeys: [{ name: 'user_id', dtype: 'int64' }],
      keys: Array.from({ length: USERS }, (_, i) => String(i)),
      eventTsMs: Array.from({ length: USERS }, (_, i) => T - (changed(i) ? 0 : 3_600_000)),
      columns: {
        clicks: Array.from({ length: USERS }, (_, i) => (changed(i) ? i + version : i)),
        score: Array.from({ length: USERS }, (_, i) => i / 7 + (changed(i) ? version : 0)),
        rate: Array.from({ length: USERS }, (_, i) => (i % 100) / 100),
        country: Array.from({ length: USERS }, (_, i) => ['NL', 'DE', 'FR', 'US'][i % 4]),
      },
    }],
  });
}

const results = [];
const work = await mkdtemp(join(tmpdir(), 'larder-lifecycle-bench-'));
try {
  // Keys and signed bundles.
  const keys = await generateSigningKeyPair();
  const publicFile = join(work, 'key.public.jwk');
  await writeFile(publicFile, JSON.stringify(keys.publicJwk));
  const privateText = JSON.stringify(keys.privateJwk);
  const dir = join(work, 'bundles');
  await mkdir(dir);
  const SWAPS = Math.floor((WINDOW_S * 1000) / 500) + 2;
  log(`encoding and signing ${SWAPS + 1} bundles of ${USERS} users ...`);
  const signed = [];
  for (let v = 1; v <= SWAPS + 1; v++) {
    const bytes = await bundleOf(v, 100);
    signed.push({ v, bytes, sig: await signBundle(bytes, await core.decodeManifest(bytes), privateText) });
  }
  const land = async ({ v, bytes, sig }) => {
    const name = `bench-v${v}.larder`;
    await writeFile(join(dir, `${name}.sig`), sig);
    await writeFile(join(dir, `.${name}.tmp-x`), bytes);
    await rename(join(dir, `.${name}.tmp-x`), join(dir, name));
  };
  await land(signed[0]);

  // 1. Swaps under load.
  const port = await freePort();
  const child = spawn(process.execPath, [CLI, 'serve', '--bundles', dir, '--port', String(port), '--public-key', publicFile, '--poll-ms', '100', '--hot-key-capacity', '1000'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitForOk(`${url}/ready`, 30_000, () => child.exitCode === null);
    const load = async (seconds, onResponse) => {
      const h = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
      let errors = 0;
      let n = 0;
      const end = performance.now() + seconds * 1000;
      const client = async () => {
        while (performance.now() < end) {
          const id = Math.floor(Math.random() * USERS);
          const t = performance.now();
          try {
            const res = await fetch(`${url}/get-online-features`, { method: 'POST', body: `{"features":["stats:clicks","stats:score","stats:country"],"entities":{"user_id":[${id}]}}` });
            const text = await res.text();
            if (res.status !== 200 || !text.includes('"results"')) errors++;
            onResponse?.(res.headers.get('x-larder-bundle-version'));
          } catch {
            errors++;
          }
          h.recordValue(Math.max(1, Math.round((performance.now() - t) * 1000)));
          n++;
        }
      };
      await Promise.all(Array.from({ length: 16 }, client));
      return { h, errors, n };
    };
    log('warm-up ...');
    await load(1);
    log(`${WINDOW_S} s without swaps ...`);
    const calm = await load(WINDOW_S);
    log(`${WINDOW_S} s with a swap every 500 ms ...`);
    const swapTimes = [];
    let pending;
    const seen = new Set();
    const swapping = (async () => {
      for (const b of signed.slice(1)) {
        await new Promise((r) => setTimeout(r, 500));
        pending = { v: String(b.v), t: performance.now() };
        await land(b);
      }
    })();
    const busy = await load(WINDOW_S, (version) => {
      if (pending && version === pending.v && !seen.has(version)) {
        seen.add(version);
        swapTimes.push(performance.now() - pending.t);
      }
    });
    await swapping;
    swapTimes.sort((a, b) => a - b);
    const pct = (h, p) => (h.getValueAtPercentile(p) / 1000).toFixed(2);
    results.push('## Swaps under load', '',
      `${USERS} users per bundle (${(signed[0].bytes.length / 2 ** 20).toFixed(1)} MiB, signed, verified before decoding); 16 concurrent keep-alive clients in the bench process, one entity x 3 features per request; the sidecar is a \`larder serve\` child with \`--public-key\`.`, '',
      table(['window', 'requests', 'errors', 'p50 ms', 'p99 ms', 'p99.9 ms', 'max ms'], [
        ['no swaps', String(calm.n), String(calm.errors), pct(calm.h, 50), pct(calm.h, 99), pct(calm.h, 99.9), (calm.h.maxValue / 1000).toFixed(2)],
        [`a swap every 500 ms (${swapTimes.length} swaps seen)`, String(busy.n), String(busy.errors), pct(busy.h, 50), pct(busy.h, 99), pct(busy.h, 99.9), (busy.h.maxValue / 1000).toFixed(2)],
      ]), '',
      `Swap time, from the bundle's rename to the first response tagged with its version (file event, read, signature and hash check, decode, install): median ${swapTimes[Math.floor(swapTimes.length / 2)]?.toFixed(1)} ms, max ${swapTimes.at(-1)?.toFixed(1)} ms.`, '');
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  }
  if (/ error /.test(stderr)) log(`sidecar errors:\n${stderr}`);

  // 2. Deltas.
  log('deltas ...');
  const base = await bundleOf(1, 0);
  const next = await bundleOf(2, 100); // every 100th user changed: 1%
  let t = performance.now();
  const delta = await diffBundles(base, next);
  const diffMs = performance.now() - t;
  const { applyDelta } = await import(join(ROOT, 'dist/src/core/bundle/delta.js'));
  t = performance.now();
  const rebuilt = await applyDelta(base, delta);
  const applyMs = performance.now() - t;
  if (rebuilt.length !== next.length) throw new Error('delta did not rebuild the bundle');
  results.push('## Deltas', '', table(['change', 'full bundle', 'delta', 'delta / full', 'diff', 'apply (incl. SHA-256 x2)'], [
    [`1% of ${USERS} users (values and event times)`, `${next.length} B`, `${delta.length} B`, `${((100 * delta.length) / next.length).toFixed(2)}%`, `${diffMs.toFixed(0)} ms`, `${applyMs.toFixed(0)} ms`],
  ]), '');

  // 3. The device client.
  log('device client in Node ...');
  const store = await createDeviceStore({ bootstrap: { bundle: base } });
  const N = quick ? 200_000 : 1_000_000;
  const ids = Array.from({ length: 1024 }, () => Math.floor(Math.random() * USERS));
  const time = (fn, n) => {
    for (let i = 0; i < n / 10; i++) fn(i);
    const s = performance.now();
    for (let i = 0; i < n; i++) fn(i);
    return ((performance.now() - s) * 1000) / n;
  };
  const nodeGet = time((i) => store.get('stats', ids[i & 1023]), N);
  const nodeOnline = time((i) => store.getOnlineFeatures({ features: ['stats:clicks', 'stats:score', 'stats:country'], entities: { user_id: [ids[i & 1023]] } }), N / 10);

  log('device client in Chromium ...');
  let chromeGet = NaN;
  let chromeOnline = NaN;
  try {
    const { chromium } = await import('playwright-core');
    const packaged = (await import('@sparticuz/chromium')).default;
    const exe = existsSync('/usr/bin/chromium') ? '/usr/bin/chromium' : await packaged.executablePath();
    const out = await build({ entryPoints: [join(ROOT, 'src/client/index.ts')], bundle: true, format: 'esm', platform: 'browser', write: false });
    const { createServer } = await import('node:http');
    const server = createServer((req, res) => {
      if (req.url === '/client.js') return void res.writeHead(200, { 'content-type': 'text/javascript' }).end(out.outputFiles[0].text);
      if (req.url === '/b.larder') return void res.writeHead(200).end(base);
      res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html>');
    });
    await new Promise((r) => server.listen(0, '127.0.0.1', r));
    const browser = await chromium.launch({ executablePath: exe, args: ['--headless', '--no-sandbox', '--disable-gpu'] });
    try {
      const page = await browser.newPage();
      await page.goto(`http://127.0.0.1:${server.address().port}/`);
      [chromeGet, chromeOnline] = await page.evaluate(`(async () => {
        const { createDeviceStore } = await import('/client.js');
        const bundle = new Uint8Array(await (await fetch('/b.larder')).arrayBuffer());
        const store = await createDeviceStore({ bootstrap: { bundle } });
        const ids = Array.from({ length: 1024 }, () => Math.floor(Math.random() * ${USERS}));
        const time = (fn, n) => { for (let i = 0; i < n / 10; i++) fn(i); const s = performance.now(); for (let i = 0; i < n; i++) fn(i); return ((performance.now() - s) * 1000) / n; };
        return [time((i) => store.get('stats', ids[i & 1023]), ${N}), time((i) => store.getOnlineFeatures({ features: ['stats:clicks', 'stats:score', 'stats:country'], entities: { user_id: [ids[i & 1023]] } }), ${N / 10})];
      })()`);
    } finally {
      await browser.close();
      server.close();
    }
  } catch (e) {
    log(`Chromium part failed: ${e.message}`);
  }
  results.push('## The device client', '', table(['runtime', 'store.get (1 entity, 4 features)', 'getOnlineFeatures (1 entity, 3 features)'], [
    [`Node ${process.version}`, `${nodeGet.toFixed(2)} µs`, `${nodeOnline.toFixed(2)} µs`],
    ['headless Chromium', `${chromeGet.toFixed(2)} µs`, `${chromeOnline.toFixed(2)} µs`],
  ]), '');
} finally {
  await rm(work, { recursive: true, force: true });
}

const file = join(ROOT, 'bench/results', quick ? 'lifecycle-quick.md' : 'lifecycle.md');
const text = [`# Bundle lifecycle (issue 12)`, '', `\`node bench/lifecycle.mjs${quick ? ' --quick' : ''}\`, ${new Date().toISOString().slice(0, 10)}, ${(await import('node:os')).cpus().length} cores, Node ${process.version}.`, '', ...results].join('\n');
await writeFile(file, text);
console.log(text);
