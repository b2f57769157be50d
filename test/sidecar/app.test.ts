/**
 * createApp without a socket (app.request): the body is read from the web
 * stream instead of Node's IncomingMessage, the limit still holds, and a
 * bug in a tier (tiers must never throw) becomes a logged 500 with the
 * catalog's shape rather than a crash.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { Bundle } from '../../src/core/bundle/bundle.js';
import { LruTier } from '../../src/core/resolve/lru-tier.js';
import type { Tier } from '../../src/core/resolve/tier.js';
import { createApp } from '../../src/sidecar/app.js';
import { Metrics } from '../../src/sidecar/metrics.js';
import { ServingStateHolder } from '../../src/sidecar/serving-state.js';
import { T0, captureLog, shopBundle } from './helpers.js';

let bundle: Bundle;
beforeAll(async () => {
  bundle = await Bundle.decode(await shopBundle(1));
});

function appWith(tiersAfterBundle: Tier[] = [], maxBodyBytes = 1024) {
  const log = captureLog();
  const holder = new ServingStateHolder({ lru: new LruTier(1 << 20), tiersAfterBundle, now: () => T0 });
  holder.install(bundle, 'memory');
  const app = createApp({ state: holder, now: () => T0, limits: { maxBodyBytes, maxEntities: 100 }, metrics: new Metrics(), log });
  return { app, log, holder };
}

const body = JSON.stringify({ features: ['user_stats:clicks'], entities: { user_id: [1, 42] } });

function streamOf(parts: string[]): ReadableStream<Uint8Array> {
  const enc = new TextEncoder();
  return new ReadableStream({
    start(controller) {
      for (const p of parts) controller.enqueue(enc.encode(p));
      controller.close();
    },
  });
}

describe('createApp via app.request', () => {
  it('answers from a streamed body', async () => {
    const { app } = appWith();
    const res = await app.request('/get-online-features', { method: 'POST', body: streamOf([body.slice(0, 7), body.slice(7)]), duplex: 'half' } as RequestInit);
    expect(res.status).toBe(200);
    expect(((await res.json()) as { results: { values: unknown[] }[] }).results[1]!.values).toEqual([10, 0]);
  });

  it('enforces the body limit on a stream without Content-Length', async () => {
    const { app } = appWith([], 100);
    const res = await app.request('/get-online-features', { method: 'POST', body: streamOf([body, ' '.repeat(200)]), duplex: 'half' } as RequestInit);
    expect(res.status).toBe(413);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('LARDER_ERR_BODY_TOO_LARGE');
  });

  it('the tiers after the bundle are consulted for keys the bundle lacks', async () => {
    const seen: string[] = [];
    const recording: Tier = {
      name: 'redis',
      lookup(_view, keys, missing) {
        for (const i of missing) seen.push(keys[i]!);
      },
    };
    const { app } = appWith([recording]);
    const res = await app.request('/get-online-features', { method: 'POST', body });
    expect(res.status).toBe(200);
    expect(seen).toEqual(['42']);
    expect(res.headers.get('x-larder-served-by')).toBe('lru=0,bundle=1,redis=0,default=1');
  });

  it('a tier that throws (a bug) gives a 500 in the catalog shape, logged with its stack', async () => {
    const broken: Tier = {
      name: 'redis',
      lookup() {
        throw new Error('tier exploded');
      },
    };
    const { app, log } = appWith([broken]);
    const res = await app.request('/get-online-features', { method: 'POST', body });
    expect(res.status).toBe(500);
    expect(await res.json()).toEqual({ error: { code: 'LARDER_ERR_INTERNAL', message: 'internal error: the sidecar logged the details' } });
    const logged = log.lines.find((l) => l.level === 'error');
    expect(logged?.message).toMatch(/unexpected error answering POST \/get-online-features: Error: tier exploded\n\s+at /);
    // The app keeps serving requests the broken tier is not asked about.
    const ok = await app.request('/get-online-features', { method: 'POST', body: JSON.stringify({ features: ['user_stats:clicks'], entities: { user_id: [1] } }) });
    expect(ok.status).toBe(200);
  });
});
