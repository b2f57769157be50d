/**
 * The origin and a sidecar following it (--bundle-url), as deployed: a
 * real `larder origin` server over a folder, a real sidecar with its own
 * cache folder and --public-key. ETag and 304; new versions downloaded and
 * swapped in; a tampered one downloaded but refused, the current one
 * serving; a restart with the origin gone serves the last good bundle at
 * once; an oversized one never downloaded; no temp files left behind.
 */
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { writeKeyPair } from '../../bundle-builder/commands/keygen.js';
import { decodeManifest } from '../../src/core/bundle/decode.js';
import { bundleFileName } from '../../src/core/bundle/format.js';
import { signBundle } from '../../src/core/sign/signature.js';
import { applyDelta } from '../../src/core/bundle/delta.js';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { resolve } from 'node:path';
import { type Origin, startOrigin } from '../../src/origin/origin.js';
import { startServe } from './cli-process.js';
import { type TestSidecar, eventually, removeDir, shopBundle, startTestSidecar, tempDir, writeBundleFile } from './helpers.js';

let privateText = '';
let publicKeyFile = '';
const dirs: string[] = [];
const closers: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  const keys = await tempDir();
  const k = await writeKeyPair(keys);
  privateText = await readFile(k.privateKeyFile, 'utf8');
  publicKeyFile = k.publicKeyFile;
});

afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
  for (const d of dirs.splice(0)) await removeDir(d);
});

async function folder(): Promise<string> {
  const d = await tempDir();
  dirs.push(d);
  return d;
}

async function publish(dir: string, version: number, tamper = false): Promise<void> {
  const bytes = await shopBundle(version);
  const name = bundleFileName('shop', version);
  await writeFile(join(dir, `${name}.manifest.json`), JSON.stringify(await decodeManifest(bytes)));
  await writeFile(join(dir, `${name}.sig`), await signBundle(bytes, await decodeManifest(bytes), privateText));
  if (tamper) bytes[bytes.length - 1]! ^= 1;
  await writeBundleFile(dir, bytes, name);
}

async function origin(dir: string): Promise<Origin> {
  const o = await startOrigin({ bundles: dir, host: '127.0.0.1', port: 0 });
  closers.push(() => o.close());
  return o;
}

async function sidecar(cache: string, url: string, extra: Record<string, unknown> = {}): Promise<TestSidecar> {
  const s = await startTestSidecar(cache, { publicKeys: [publicKeyFile], bundleUrl: url, ...extra });
  closers.push(() => s.close());
  return s;
}

const servedVersion = async (s: TestSidecar) => (await s.post({ features: ['user_stats:clicks'], entities: { user_id: [1] } })).headers.get('x-larder-bundle-version');

describe('larder origin', () => {
  it('announces the latest bundle with an ETag, answers 304 when unchanged, serves files and signatures', async () => {
    const dir = await folder();
    await publish(dir, 1);
    const o = await origin(dir);
    const first = await fetch(`${o.url}/bundles/latest`);
    expect(first.status).toBe(200);
    const etag = first.headers.get('etag')!;
    const latest = (await first.json()) as { project: string; version: number; url: string; signatureUrl: string; manifest: { version: number } };
    expect([latest.project, latest.version, latest.url, latest.signatureUrl, latest.manifest.version]).toEqual(['shop', 1, '/bundles/1', '/bundles/1.sig', 1]);
    const again = await fetch(`${o.url}/bundles/latest`, { headers: { 'if-none-match': etag } });
    expect([again.status, await again.text()]).toEqual([304, '']);

    const file = await fetch(`${o.url}/bundles/1`);
    expect(new Uint8Array(await file.arrayBuffer())).toEqual(new Uint8Array(await readFile(join(dir, 'shop-v1.larder'))));
    expect((await fetch(`${o.url}/bundles/1.sig`)).status).toBe(200);
    expect((await fetch(`${o.url}/bundles/9`)).status).toBe(404);
    expect((await fetch(`${o.url}/bundles/..%2Fetc`)).status).toBe(404);

    await publish(dir, 2);
    const changed = await fetch(`${o.url}/bundles/latest`, { headers: { 'if-none-match': etag } });
    expect(changed.status).toBe(200);
    expect(changed.headers.get('etag')).not.toBe(etag);

    // A delta from v1 to v2: applied to v1 it is exactly v2.
    const v1 = new Uint8Array(await readFile(join(dir, 'shop-v1.larder')));
    const v2 = new Uint8Array(await readFile(join(dir, 'shop-v2.larder')));
    const delta = await fetch(`${o.url}/bundles/2/delta?from=1`);
    expect(delta.status).toBe(200);
    expect(await applyDelta(v1, new Uint8Array(await delta.arrayBuffer()))).toEqual(v2);
    expect((await fetch(`${o.url}/bundles/2/delta?from=2`)).status).toBe(400);
    expect((await fetch(`${o.url}/bundles/2/delta?from=x`)).status).toBe(400);
    expect((await fetch(`${o.url}/bundles/3/delta?from=1`)).status).toBe(404);

    // larder diff writes the same kind of file.
    const out = join(dir, 'v1-v2.delta');
    const { stdout } = await promisify(execFile)(process.execPath, [resolve(import.meta.dirname, '../../dist/src/cli.js'), 'diff', join(dir, 'shop-v1.larder'), join(dir, 'shop-v2.larder'), '--out', out]);
    expect(stdout).toMatch(/^delta shop v1 -> v2: \d+ bytes/);
    expect(await applyDelta(v1, new Uint8Array(await readFile(out)))).toEqual(v2);
  });
});

describe('a sidecar following an origin (--bundle-url)', () => {
  it('downloads and swaps in new versions, refuses a tampered one, and restarts offline on the last good bundle', async () => {
    const originDir = await folder();
    const cache = await folder();
    await publish(originDir, 1);
    const o = await origin(originDir);
    const s = await sidecar(cache, o.url);
    await eventually(async () => (await servedVersion(s)) === '1', 5000, 'v1 from the origin');

    await publish(originDir, 2);
    await eventually(async () => (await servedVersion(s)) === '2', 5000, 'v2 from the origin');
    // v1 was served: v2 came as a delta from it, rebuilt to the announced SHA-256.
    await eventually(() => /downloaded shop-v2\.larder \(\d+ bytes\) from .* as a delta of \d+ bytes from v1/.test(s.log.text()), 5000, 'v2 logged as a delta from v1');

    await publish(originDir, 3, true);
    await eventually(() => s.log.text().includes('skipping bundle'), 5000, 'the tampered v3 refused');
    expect(s.log.text()).toContain("the bundle's bytes do not match the signed hash");
    expect(await servedVersion(s)).toBe('2');

    await s.close();
    closers.splice(closers.length - 1, 1);
    await o.close();
    closers.splice(0, 1);
    // The origin is gone: the restarted sidecar serves v2 from its folder at once.
    const offline = await sidecar(cache, o.url);
    expect(await servedVersion(offline)).toBe('2');
    await eventually(() => offline.log.text().includes(`bundle origin ${o.url}`), 5000, 'the unreachable origin logged');
    expect((await readdir(cache)).filter((n) => n.includes('.tmp'))).toEqual([]);
  });

  it('never downloads a bundle over --max-bundle-bytes', async () => {
    const originDir = await folder();
    const cache = await folder();
    await publish(originDir, 1);
    const o = await origin(originDir);
    const s = await sidecar(cache, o.url, { maxBundleBytes: 1000 });
    await eventually(() => s.log.text().includes('not downloading shop-v1.larder'), 5000, 'the oversized bundle refused');
    expect(s.log.text()).toMatch(/it has \d+ bytes, more than the 1000 allowed/);
    expect((await readdir(cache)).filter((n) => n.endsWith('.larder'))).toEqual([]);
  });

  it('a transfer cut mid-way, and temp files of a killed process, leave the current bundle and no stray files', async () => {
    const cache = await folder();
    await publish(cache, 1);
    // Left behind by a process killed between write and rename.
    await writeFile(join(cache, '.shop-v2.larder.tmp-sync-999-deadbeef'), 'half a bundle');
    const v2 = await shopBundle(2);
    const sha256 = createHash('sha256').update(v2).digest('hex');
    const server = createServer((req, res) => {
      if (req.url === '/bundles/latest') {
        res.setHeader('etag', `"${sha256}"`);
        res.end(JSON.stringify({ project: 'shop', version: 2, sha256, bytes: v2.length, url: '/bundles/2', signatureUrl: null }));
        return;
      }
      // Announces the whole file, sends half, and drops the connection.
      res.writeHead(200, { 'content-length': String(v2.length) });
      res.write(v2.subarray(0, v2.length >> 1), () => res.destroy());
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    closers.push(() => new Promise((r) => { server.close(r); server.closeAllConnections(); }));
    const address = server.address() as { port: number };
    const s = await sidecar(cache, `http://127.0.0.1:${address.port}`);
    expect(await servedVersion(s)).toBe('1');
    await eventually(() => s.log.text().includes('bundle origin'), 5000, 'the cut transfer logged');
    await new Promise((r) => setTimeout(r, 200));
    expect(await servedVersion(s)).toBe('1');
    expect(s.log.text()).not.toContain('downloaded shop-v2');
    // The sidecar keeps retrying, so a transfer may be under way (its temp
    // file present) at any moment. With the origin gone, each one fails
    // and must remove its temp file; one that stays times this out.
    await new Promise((r) => { server.close(r); server.closeAllConnections(); });
    const settled = ['.larder-state.json', 'shop-v1.larder', 'shop-v1.larder.manifest.json', 'shop-v1.larder.sig'];
    let names: string[] = [];
    await eventually(async () => (names = (await readdir(cache)).sort()).join('\n') === settled.join('\n'), 5000, 'no stray files').catch(() => undefined);
    expect(names).toEqual(settled);
  });

  it('a sidecar process killed mid-download (SIGKILL): the restart removes its temp file and serves the last good bundle', async () => {
    const cache = await folder();
    await publish(cache, 1);
    const v2 = await shopBundle(2);
    const sha256 = createHash('sha256').update(v2).digest('hex');
    let downloading = false;
    const server = createServer((req, res) => {
      if (req.url === '/bundles/latest') {
        res.setHeader('etag', `"${sha256}"`);
        res.end(JSON.stringify({ project: 'shop', version: 2, sha256, bytes: v2.length, url: '/bundles/2', signatureUrl: null }));
        return;
      }
      if (req.url !== '/bundles/2') return void res.writeHead(404).end();
      // Half the file, then nothing: the download stays open until the process dies.
      downloading = true;
      res.writeHead(200, { 'content-length': String(v2.length) });
      res.write(v2.subarray(0, v2.length >> 1));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    closers.push(() => new Promise((r) => { server.close(r); server.closeAllConnections(); }));
    const originUrl = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    const child = await startServe(['--bundles', cache, '--bundle-url', originUrl, '--public-key', publicKeyFile, '--poll-ms', '100']);
    const temps = async () => (await readdir(cache)).filter((n) => n.includes('.tmp-sync-'));
    await eventually(async () => downloading && (await temps()).length === 1, 10_000, 'a download under way');
    child.child.kill('SIGKILL');
    await child.exited;
    expect(await temps()).toHaveLength(1); // what the killed process left

    const s = await sidecar(cache, 'http://127.0.0.1:9'); // the origin is unreachable now
    expect(await servedVersion(s)).toBe('1');
    expect(await temps()).toEqual([]);
    expect((await readdir(cache)).filter((n) => n.endsWith('.larder'))).toEqual(['shop-v1.larder']);
  });
});
