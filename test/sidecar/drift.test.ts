/**
 * Live drift over HTTP: a bundle whose `amount` is Normal(50, 10) and whose
 * `segment` has skewed shares; traffic that asks for keys at random serves
 * the training distribution (PSI near 0), traffic that asks only for the
 * high-amount, rare-segment keys has moved (PSI above 0.2). GET /drift and
 * /metrics both show it; with --drift-sample 0 /drift says drift is off.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeBundle } from '../../src/core/bundle/encode.js';
import { bundleFileName } from '../../src/core/bundle/format.js';
import { defineRepo } from '../../src/core/repo/define.js';
import type { DriftReport } from '../../src/core/shadow/drift.js';
import { T0, type TestSidecar, removeDir, startTestSidecar, tempDir, writeBundleFile } from './helpers.js';

const KEYS = 4000;

/** Deterministic uniform numbers in [0, 1). */
function uniform(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const u = uniform(11);
const amounts = Array.from({ length: KEYS }, () => 50 + 10 * Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u()));
const segments = amounts.map((a, i) => (a > 60 ? 'rare' : i % 3 === 0 ? 'b' : 'a'));

let dir = '';
const running: TestSidecar[] = [];

beforeAll(async () => {
  dir = await tempDir();
  const repo = defineRepo({
    project: 'drifty',
    entities: [{ name: 'user', joinKeys: ['user_id'] }],
    sources: [{ name: 's', path: 'x.parquet', timestampField: 'ts' }],
    featureViews: [{ name: 'scores', entities: ['user'], source: 's', ttlSeconds: 0, features: [{ name: 'amount', dtype: 'float64' }, { name: 'segment', dtype: 'string' }] }],
  });
  const bytes = await encodeBundle({
    project: 'drifty', version: 1, parentVersion: null, createdAt: new Date(T0), asOf: new Date(T0), repo,
    views: [{ name: 'scores', joinKeys: [{ name: 'user_id', dtype: 'int64' }], keys: amounts.map((_, i) => String(i)), eventTsMs: amounts.map(() => T0), columns: { amount: amounts, segment: segments } }],
  });
  await writeBundleFile(dir, bytes, bundleFileName('drifty', 1));
});

afterAll(async () => {
  for (const s of running) await s.close();
  await removeDir(dir);
});

async function serveTraffic(keys: number[], sample: number): Promise<TestSidecar> {
  const sidecar = await startTestSidecar(dir, { driftSample: sample, driftWindowSeconds: 3600 });
  running.push(sidecar);
  for (let i = 0; i < keys.length; i += 200) {
    const res = await sidecar.post({ features: ['scores:amount', 'scores:segment'], entities: { user_id: keys.slice(i, i + 200) } });
    expect(res.status).toBe(200);
    await res.arrayBuffer();
  }
  return sidecar;
}

async function drift(sidecar: TestSidecar): Promise<Record<string, { psi: number | null; samples: number }>> {
  // The tap counts answers after they are sent: wait until every one is in.
  let report: DriftReport | undefined;
  for (let tries = 0; tries < 100; tries++) {
    const res = await sidecar.get('/drift');
    expect(res.status).toBe(200);
    report = (await res.json()) as DriftReport;
    if (report.features.every((f) => f.samples > 0)) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  expect(report!.bundleVersion).toBe(1);
  return Object.fromEntries(report!.features.map((f) => [f.feature, f]));
}

describe('GET /drift', () => {
  it('PSI is near 0 when the traffic asks for keys at random', async () => {
    const r = uniform(5);
    const keys = Array.from({ length: 3000 }, () => Math.floor(r() * KEYS));
    const sidecar = await serveTraffic(keys, 1);
    const features = await drift(sidecar);
    expect(features.amount!.samples).toBe(3000);
    expect(features.amount!.psi!).toBeLessThan(0.05);
    expect(features.segment!.psi!).toBeLessThan(0.05);
    const metrics = await (await sidecar.get('/metrics')).text();
    const line = metrics.split('\n').find((l) => l.startsWith('larder_feature_drift_psi{project="drifty",view="scores",feature="amount"}'));
    expect(Number(line!.split(' ')[1])).toBeCloseTo(features.amount!.psi!, 9);
    expect(metrics).toContain('larder_feature_drift_samples{project="drifty",view="scores",feature="segment"} 3000');
  });

  it('PSI is above 0.2 when the traffic has shifted', async () => {
    const high = amounts.map((a, i) => [a, i] as const).filter(([a]) => a > 55).map(([, i]) => i);
    const sidecar = await serveTraffic([...high, ...high], 1);
    const features = await drift(sidecar);
    expect(features.amount!.psi!).toBeGreaterThan(0.2);
    expect(features.segment!.psi!).toBeGreaterThan(0.2);
  });

  it('says so when drift is off', async () => {
    const sidecar = await startTestSidecar(dir, { driftSample: 0 });
    running.push(sidecar);
    const res = await sidecar.get('/drift');
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { message: string } }).error.message).toBe('drift is off: start the sidecar with --drift-sample above 0');
  });
});
