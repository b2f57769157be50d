/**
 * The device client in headless Chromium, driving the example page
 * (examples/device/index.html) with the client bundled by esbuild: it syncs
 * a signed bundle from a real origin, reads the same values a real sidecar
 * serves for the same keys, refuses a tampered newer version, and after a
 * reload answers offline from IndexedDB. Chromium is found as
 * test/core/browser.test.ts finds it.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { getRequestListener } from '@hono/node-server';
import { build } from 'esbuild';
import type { Browser } from 'playwright-core';
import { launchChromium } from '../chromium.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeKeyPair } from '../../bundle-builder/commands/keygen.js';
import { decodeManifest } from '../../src/core/bundle/decode.js';
import { bundleFileName } from '../../src/core/bundle/format.js';
import { signBundle } from '../../src/core/sign/signature.js';
import { createOriginApp } from '../../src/origin/origin.js';
import { type TestSidecar, removeDir, shopBundle, startTestSidecar, tempDir, writeBundleFile } from '../sidecar/helpers.js';


let server: Server;
let browser: Browser;
let url = '';
let clientSource = '';
let dir = '';
let privateText = '';
let publicText = '';
let sidecar: TestSidecar;

async function publish(version: number, tamper = false): Promise<void> {
  const bytes = await shopBundle(version);
  const name = bundleFileName('shop', version);
  await writeFile(join(dir, `${name}.sig`), await signBundle(bytes, await decodeManifest(bytes), privateText));
  if (tamper) bytes[bytes.length - 1]! ^= 1;
  await writeBundleFile(dir, bytes, name);
}

beforeAll(async () => {
  const out = await build({ entryPoints: ['src/client/index.ts'], bundle: true, format: 'esm', platform: 'browser', write: false });
  clientSource = out.outputFiles[0]!.text;
  dir = await tempDir();
  const k = await writeKeyPair(await tempDir());
  privateText = await readFile(k.privateKeyFile, 'utf8');
  publicText = await readFile(k.publicKeyFile, 'utf8');
  await publish(1);
  sidecar = await startTestSidecar(dir, { publicKeys: [k.publicKeyFile] });
  const page = await readFile('examples/device/index.html', 'utf8');
  const originListener = getRequestListener(createOriginApp(dir).fetch);
  server = createServer((req, res) => {
    if (req.url?.startsWith('/bundles/')) return void originListener(req, res);
    if (req.url === '/client.js') return void res.writeHead(200, { 'content-type': 'text/javascript' }).end(clientSource);
    if (req.url === '/' || req.url?.startsWith('/?')) return void res.writeHead(200, { 'content-type': 'text/html' }).end(page);
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  if (server) await new Promise((resolve) => server.close(resolve));
  await sidecar?.close();
  await removeDir(dir);
});

const request = { features: ['user_stats:clicks', 'user_stats:ctr', 'user_stats:country', 'user_stats:embedding', 'user_stats:tags', 'user_stats:vip', 'user_product:affinity'], entities: { user_id: [1, 2, 3, 4], product_id: ['p1', 'p1', 'p1', 'p1'] } };

describe('the device client in Chromium', () => {
  it('has no Node-only imports', () => {
    expect(clientSource).not.toMatch(/from\s*["']node:/);
    expect(clientSource).toContain('createDeviceStore');
  });

  it('syncs, reads what the sidecar serves, refuses a tampered version, and answers offline after a reload', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${url}/`);
    await page.waitForFunction('window.larderExample !== undefined');
    const opened = await page.evaluate(`window.larderExample.open(location.origin, ${JSON.stringify(publicText)})`);
    expect(opened).toEqual({ version: 1, synced: 'updated' });
    const now = sidecar.clock.nowMs;
    const inBrowser = await page.evaluate(`window.larderExample.read(${JSON.stringify(request)}, ${now})`);
    expect(inBrowser).toEqual(await (await sidecar.post(request)).json());

    await publish(2, true);
    const refused = (await page.evaluate(`window.larderExample.open(location.origin, ${JSON.stringify(publicText)})`)) as { version: number; synced: string };
    expect(refused.version).toBe(1);
    expect(refused.synced).toContain('LARDER_ERR_BUNDLE_CHECKSUM');

    // Reload with no origin: IndexedDB holds v1.
    await page.reload();
    await page.waitForFunction('window.larderExample !== undefined');
    expect(await page.evaluate(`window.larderExample.open('', ${JSON.stringify(publicText)})`)).toEqual({ version: 1, synced: 'offline' });
    const offline = (await page.evaluate(`window.larderExample.read({ features: ['user_stats:clicks'], entities: { user_id: [1] } }, ${now})`)) as { results: { values: unknown[] }[] };
    expect(offline.results[1]!.values).toEqual([10]);
    await context.close();
  });
});
