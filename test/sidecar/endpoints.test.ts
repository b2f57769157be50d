/** /health, /ready, /bundle and /metrics of a real sidecar, from an empty directory to serving. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { T0, type TestSidecar, eventually, removeDir, startTestSidecar, tempDir, writeShopBundle } from './helpers.js';

let dir: string;
let s: TestSidecar;

beforeAll(async () => {
  dir = await tempDir();
  s = await startTestSidecar(dir, {}, T0 + 3600_000); // the bundle is created at T0 + 10 min
});
afterAll(async () => {
  await s.close();
  await removeDir(dir);
});

/** The value of one sample line of the exposition text, or undefined. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

async function metrics(): Promise<string> {
  const res = await s.get('/metrics');
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return res.text();
}

describe('before any bundle', () => {
  it('/health is 200 while the process is alive', async () => {
    const res = await s.get('/health');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok' });
  });

  it('/ready, /bundle and /get-online-features are 503 with a JSON error saying why', async () => {
    for (const res of [await s.get('/ready'), await s.get('/bundle'), await s.post({ features: ['user_stats:clicks'], entities: { user_id: [1] } })]) {
      expect(res.status).toBe(503);
      const json = (await res.json()) as { error: { code: string; message: string } };
      expect(json.error.code).toBe('LARDER_ERR_NOT_READY');
      expect(json.error.message).toContain(`no bundle files in ${dir} yet`);
    }
  });

  it('/metrics says no bundle is loaded', async () => {
    const text = await metrics();
    expect(sample(text, 'larder_bundle_loaded')).toBe(0);
    expect(text).not.toContain('larder_bundle_version{');
  });
});

describe('after a bundle appears', () => {
  beforeAll(async () => {
    await writeShopBundle(dir, 1);
    await eventually(async () => (await s.get('/ready')).status === 200, 5000, 'ready after polling');
  });

  it('/ready is 200 with the project and version', async () => {
    const res = await s.get('/ready');
    expect(await res.json()).toEqual({ status: 'ready', project: 'shop', version: 1 });
    expect(res.headers.get('x-larder-bundle-version')).toBe('1');
  });

  it('/bundle is the loaded manifest', async () => {
    const res = await s.get('/bundle');
    expect(res.status).toBe(200);
    const manifest = (await res.json()) as Record<string, unknown> & { views: { name: string; keyCount: number }[]; repo: { project: string } };
    expect(manifest).toMatchObject({ format: 'larder-bundle', project: 'shop', version: 1, parentVersion: null, createdAt: '2026-01-01T00:10:00.000Z', asOf: '2026-01-01T00:00:00.000Z' });
    expect(manifest.views.map((v) => [v.name, v.keyCount])).toEqual([['user_stats', 3], ['user_product', 2]]);
    expect(manifest.repo.project).toBe('shop');
    expect(manifest).toEqual(s.sidecar.holder.current!.manifest);
  });

  it('/metrics counts requests, latency, tiers, statuses, the bundle and the LRU', async () => {
    const route = 'route="/get-online-features",status="200"';
    const before = await metrics();
    const count0 = sample(before, `larder_http_requests_total{${route}}`) ?? 0;
    const bundle0 = sample(before, 'larder_entities_served_total{tier="bundle"}')!;
    const lru0 = sample(before, 'larder_entities_served_total{tier="lru"}')!;
    const default0 = sample(before, 'larder_entities_served_total{tier="default"}')!;
    const present0 = sample(before, 'larder_feature_values_total{status="PRESENT"}')!;
    const notFound0 = sample(before, 'larder_feature_values_total{status="NOT_FOUND"}')!;
    const bad0 = sample(before, 'larder_http_requests_total{route="/get-online-features",status="404"}') ?? 0;

    const body = { features: ['user_stats:clicks', 'user_stats:country'], entities: { user_id: [1, 404] } };
    expect((await s.post(body)).status).toBe(200); // user 1 from the bundle, 404 not found
    expect((await s.post(body)).status).toBe(200); // the same again: the LRU keeps only rows of remote tiers
    expect((await s.post({ features: ['nope:x'], entities: { user_id: [1] } })).status).toBe(404);

    const after = await metrics();
    expect(sample(after, `larder_http_requests_total{${route}}`)).toBe(count0 + 2);
    expect(sample(after, 'larder_http_requests_total{route="/get-online-features",status="404"}')).toBe(bad0 + 1);
    expect(sample(after, `larder_http_request_duration_seconds_count{${route}}`)).toBe(count0 + 2);
    expect(sample(after, `larder_http_request_duration_seconds_bucket{${route},le="+Inf"}`)).toBe(count0 + 2);
    expect(sample(after, `larder_http_request_duration_seconds_sum{${route}}`)).toBeGreaterThan(0);
    // Buckets are cumulative.
    const buckets = after.split('\n').filter((l) => l.startsWith(`larder_http_request_duration_seconds_bucket{${route}`)).map((l) => Number(l.split(' ')[1]));
    expect(buckets).toEqual([...buckets].sort((a, b) => a - b));
    expect(sample(after, 'larder_entities_served_total{tier="bundle"}')).toBe(bundle0 + 2);
    expect(sample(after, 'larder_entities_served_total{tier="lru"}')).toBe(lru0);
    expect(sample(after, 'larder_entities_served_total{tier="default"}')).toBe(default0 + 2);
    // Two features x user 1 x two requests PRESENT; two features x user 404 x two requests NOT_FOUND.
    expect(sample(after, 'larder_feature_values_total{status="PRESENT"}')).toBe(present0 + 4);
    expect(sample(after, 'larder_feature_values_total{status="NOT_FOUND"}')).toBe(notFound0 + 4);
    expect(sample(after, 'larder_bundle_loaded')).toBe(1);
    expect(sample(after, 'larder_bundle_version{project="shop"}')).toBe(1);
    // Clock at T0 + 60 min; the bundle was created at T0 + 10 min from a snapshot at T0.
    expect(sample(after, 'larder_bundle_age_seconds{project="shop"}')).toBe(3000);
    expect(sample(after, 'larder_bundle_snapshot_age_seconds{project="shop"}')).toBe(3600);
    expect(sample(after, 'larder_bundle_loads_total{result="ok"}')).toBe(1);
    // No tier behind the bundle is worth caching here, so the LRU stays out
    // of the walk (app.test.ts feeds it from a remote tier).
    expect(sample(after, 'larder_lru_entries')).toBe(0);
    expect(sample(after, 'larder_lru_bytes')).toBe(0);
    expect(sample(after, 'larder_lru_max_bytes')).toBe(64 * 1024 * 1024);
    expect(sample(after, 'larder_lru_lookups_total{result="hit"}')).toBe(0);
    expect(sample(after, 'larder_lru_lookups_total{result="miss"}')).toBe(0);
    expect(sample(after, 'larder_lru_hit_ratio')).toBe(0);
  });

  it('every metric family has HELP and TYPE, and every sample line parses', async () => {
    const text = await metrics();
    const lines = text.trimEnd().split('\n');
    const families = new Set<string>();
    for (const line of lines) {
      if (line.startsWith('# TYPE ')) families.add(line.split(' ')[2]!);
      else if (!line.startsWith('# HELP ')) {
        expect(line).toMatch(/^[a-z_]+(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? -?[0-9.e+-]+$/);
        const name = line.replace(/[{ ].*$/, '').replace(/_(bucket|sum|count)$/, '');
        expect(families.has(name) || families.has(line.replace(/[{ ].*$/, '')), line).toBe(true);
      }
    }
    expect(families.size).toBeGreaterThanOrEqual(12);
  });

  it('counts unknown routes under one label, not one series per path', async () => {
    await s.get('/a');
    await s.get('/b');
    const text = await metrics();
    expect(sample(text, 'larder_http_requests_total{route="unmatched",status="404"}')).toBeGreaterThanOrEqual(2);
    expect(text).not.toContain('route="/a"');
  });
});
