/**
 * The core must run outside Node: this bundles src/core for the browser with
 * esbuild and decodes a real bundle inside headless Chromium. It also proves
 * msgpackr's pure-JS path, since no native addon exists in a browser.
 *
 * The browser is Debian's /usr/bin/chromium when the machine has it, else
 * the Chromium that the devDependency @sparticuz/chromium carries inside its
 * package (unpacked to the temp dir on first use), so `npm ci && npm test`
 * needs nothing from apt.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { build } from 'esbuild';
import type { Browser } from 'playwright-core';
import { launchChromium } from '../chromium.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FeatureViewDef } from '../../src/core/repo/types.js';
import { bundleBytes, repoWith } from './helpers.js';

const T0 = Date.parse('2026-01-01T00:00:00Z');

const view: FeatureViewDef = {
  name: 'user_stats', entities: ['user'], source: 'src', ttlSeconds: 0,
  features: [
    { name: 'clicks', dtype: 'int64' },
    { name: 'country', dtype: 'string' },
    { name: 'embedding', dtype: 'float32[]' },
    { name: 'tags', dtype: 'string[]' },
  ],
};

let server: Server;
let browser: Browser;
let origin: string;
let coreSource = '';

beforeAll(async () => {
  const out = await build({ entryPoints: ['src/core/index.ts'], bundle: true, format: 'esm', platform: 'browser', write: false });
  coreSource = out.outputFiles[0]!.text;
  const good = await bundleBytes(repoWith([view]), [{
    name: 'user_stats', joinKeys: [{ name: 'user_id', dtype: 'int64' }], keys: ['1', '2'], eventTsMs: [T0, T0],
    columns: { clicks: [7, null], country: ['Zürich', 'DE'], embedding: [[0.5, 1.5], null], tags: [['a', 'b'], []] },
  }]);
  const bad = good.slice();
  bad[bad.length - 3]! ^= 1;
  const files: Record<string, [string, Uint8Array | string]> = {
    '/': ['text/html', '<!doctype html><title>larder</title>'],
    '/core.js': ['text/javascript', coreSource],
    '/good.larder': ['application/octet-stream', good],
    '/bad.larder': ['application/octet-stream', bad],
  };
  server = createServer((req, res) => {
    const file = files[req.url ?? ''];
    if (!file) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': file[0] }).end(file[1]);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  // No server when beforeAll failed early: then there is nothing to wait for.
  if (server) await new Promise((resolve) => server!.close(resolve));
});

describe('the core in a browser', () => {
  it('has no Node-only imports', () => {
    expect(coreSource).not.toMatch(/from\s*["']node:/);
    expect(coreSource).not.toMatch(/require\(["'](node:)?(fs|path|crypto)["']\)/);
  });

  it('decodes, verifies and reads a bundle in Chromium', async () => {
    const page = await browser.newPage();
    await page.goto(origin + '/');
    // A string, not a function: vitest would rewrite import() inside a function.
    const result = await page.evaluate(`(async () => {
      const core = await import('/core.js');
      const load = async (path) => new Uint8Array(await (await fetch(path)).arrayBuffer());
      const bundle = await core.Bundle.decode(await load('/good.larder'));
      const badError = await core.Bundle.decode(await load('/bad.larder')).then(() => 'accepted', (e) => e.code);
      return {
        one: bundle.get('user_stats', 1),
        two: bundle.get('user_stats', 2),
        online: bundle.getOnlineFeatures({ features: ['user_stats:clicks'], entities: { user_id: [2, 3] } }, { now: new Date('2026-01-02T00:00:00Z') }),
        badError,
      };
    })()`) as { one: unknown; two: unknown; online: { results: unknown[] }; badError: string };
    await page.close();
    expect(result.one).toEqual({ clicks: 7, country: 'Zürich', embedding: [0.5, 1.5], tags: ['a', 'b'] });
    expect(result.two).toEqual({ clicks: null, country: 'DE', embedding: null, tags: [] });
    expect(result.online.results[1]).toEqual({ values: [null, null], statuses: ['NULL_VALUE', 'NOT_FOUND'], event_timestamps: ['2026-01-01T00:00:00Z', '1970-01-01T00:00:00Z'] });
    expect(result.badError).toBe('LARDER_ERR_BUNDLE_CHECKSUM');
  });
});
