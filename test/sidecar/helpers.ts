/**
 * Fixtures for sidecar tests: a small shop repo, bundles made by the real
 * encoder and written to temp dirs, and a real sidecar listening on a free
 * port (port 0) with an injectable clock.
 */
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { afterAll, beforeAll, expect } from 'vitest';
import { join } from 'node:path';
import { encodeBundle, type BundleInput, type ViewSnapshot } from '../../src/core/bundle/encode.js';
import { bundleFileName } from '../../src/core/bundle/format.js';
import { entityKeyString } from '../../src/core/keys.js';
import { defineRepo } from '../../src/core/repo/define.js';
import type { RepoDef } from '../../src/core/repo/types.js';
import type { Logger } from '../../src/sidecar/log.js';
import type { ServeOptions } from '../../src/sidecar/options.js';
import { type Sidecar, startSidecar } from '../../src/sidecar/serve.js';

export const T0 = Date.parse('2026-01-01T00:00:00Z');
export const HOUR = 3_600_000;
export const EPOCH = '1970-01-01T00:00:00Z';

export function shopRepo(project = 'shop'): RepoDef {
  return defineRepo({
    project,
    entities: [
      { name: 'user', joinKeys: ['user_id'] },
      { name: 'product', joinKeys: ['product_id'] },
    ],
    sources: [{ name: 'events', path: 'data/*.parquet', timestampField: 'ts' }],
    featureViews: [
      {
        name: 'user_stats', entities: ['user'], source: 'events', ttlSeconds: 3600,
        features: [
          { name: 'clicks', dtype: 'int64', default: 0 },
          { name: 'ctr', dtype: 'float64' },
          { name: 'country', dtype: 'string', default: 'unknown' },
          { name: 'last_seen', dtype: 'timestamp' },
          { name: 'embedding', dtype: 'float32[]' },
          { name: 'tags', dtype: 'string[]' },
          { name: 'vip', dtype: 'bool' },
        ],
      },
      {
        name: 'user_product', entities: ['user', 'product'], source: 'events', ttlSeconds: 0,
        features: [{ name: 'affinity', dtype: 'float64', default: 0.5 }],
      },
      {
        name: 'history', entities: ['user'], source: 'events', ttlSeconds: 0, online: false,
        features: [{ name: 'orders', dtype: 'int64' }],
      },
    ],
    featureServices: [{ name: 'ranker', features: ['user_stats:clicks', 'user_stats:ctr', 'user_product:*'] }],
  });
}

/** Rows of the shop bundle; `version` is mixed into clicks so tests can tell versions apart. */
export function shopViews(version = 1): ViewSnapshot[] {
  return [
    {
      name: 'user_stats',
      joinKeys: [{ name: 'user_id', dtype: 'int64' }],
      keys: ['1', '2', '3'],
      // user 1 fresh at T0; user 2 written 2 h before T0 (stale at T0 with a 1 h TTL); user 3 fresh with nulls.
      eventTsMs: [T0, T0 - 2 * HOUR, T0],
      columns: {
        clicks: [10 * version, 20, 30],
        ctr: [0.25, 0.5, null],
        country: ['NL', 'DE', null],
        last_seen: [T0 - 60_000, T0 - 3 * HOUR, null],
        embedding: [new Float32Array([0.5, -1]), [0.25, 2], null],
        tags: [['a', 'b'], [], null],
        vip: [true, false, null],
      },
    },
    {
      name: 'user_product',
      joinKeys: [{ name: 'user_id', dtype: 'int64' }, { name: 'product_id', dtype: 'string' }],
      keys: [entityKeyString([1, 'p1']), entityKeyString([2, 'p1'])],
      eventTsMs: [T0, T0 - 1000],
      columns: { affinity: [0.9, 0.1] },
    },
  ];
}

export function shopBundle(version = 1, overrides: Partial<BundleInput> = {}): Promise<Uint8Array> {
  return encodeBundle({
    project: 'shop',
    version,
    parentVersion: version > 1 ? version - 1 : null,
    createdAt: new Date(T0 + 10 * 60_000),
    asOf: new Date(T0),
    repo: shopRepo(),
    views: shopViews(version),
    ...overrides,
  });
}

export async function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'larder-sidecar-'));
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

/** Writes bytes under a bundle's file name the way the builder does: temp file, then rename. */
export async function writeBundleFile(dir: string, bytes: Uint8Array, name: string): Promise<string> {
  const path = join(dir, name);
  const tmp = join(dir, `.${name}.tmp`);
  await writeFile(tmp, bytes);
  await rename(tmp, path);
  return path;
}

export async function writeShopBundle(dir: string, version: number): Promise<string> {
  return writeBundleFile(dir, await shopBundle(version), bundleFileName('shop', version));
}

export interface CapturedLog extends Logger {
  lines: { level: string; message: string }[];
  text(): string;
}

export function captureLog(): CapturedLog {
  const lines: { level: string; message: string }[] = [];
  return {
    lines,
    info: (message) => void lines.push({ level: 'info', message }),
    warn: (message) => void lines.push({ level: 'warn', message }),
    error: (message) => void lines.push({ level: 'error', message }),
    text: () => lines.map((l) => `${l.level} ${l.message}`).join('\n'),
  };
}

export interface TestSidecar {
  sidecar: Sidecar;
  url: string;
  log: CapturedLog;
  /** The injected clock; set `clock.nowMs` to move time. */
  clock: { nowMs: number };
  post(body: unknown, init?: RequestInit): Promise<Response>;
  get(path: string): Promise<Response>;
  close(): Promise<void>;
}

/** A real sidecar on 127.0.0.1 and a free port, reading `dir`. */
export async function startTestSidecar(dir: string, options: Partial<ServeOptions> = {}, nowMs = T0 + 30 * 60_000): Promise<TestSidecar> {
  const clock = { nowMs };
  const log = captureLog();
  const sidecar = await startSidecar(
    {
      bundles: dir,
      host: '127.0.0.1',
      port: 0,
      cacheMaxBytes: 64 * 1024 * 1024,
      maxBodyBytes: 1024 * 1024,
      maxEntities: 10_000,
      pollMs: 50,
      shutdownGraceMs: 2000,
      maxConnections: 1024,
      maxBundleBytes: 1024 ** 3,
      ...options,
    },
    { now: () => clock.nowMs, log },
  );
  const url = sidecar.url;
  return {
    sidecar,
    url,
    log,
    clock,
    post: (body, init) =>
      fetch(`${url}/get-online-features`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: typeof body === 'string' || body instanceof Uint8Array ? (body as BodyInit) : JSON.stringify(body),
        ...init,
      }),
    get: (path) => fetch(`${url}${path}`),
    close: async () => {
      await sidecar.close(1000);
    },
  };
}

/**
 * A real sidecar serving shop bundle v1 from its own temp dir, started in
 * beforeAll and closed (dir removed) in afterAll of the calling test file.
 */
export function useShopSidecar(options: Partial<ServeOptions> = {}, nowMs?: number): TestSidecar & { readonly dir: string } {
  let started: TestSidecar | undefined;
  let dir = '';
  beforeAll(async () => {
    dir = await tempDir();
    await writeShopBundle(dir, 1);
    started = await startTestSidecar(dir, options, nowMs);
  });
  afterAll(async () => {
    await started?.close();
    await removeDir(dir);
  });
  const running = (): TestSidecar => {
    if (!started) throw new Error('the shop sidecar starts in beforeAll');
    return started;
  };
  return {
    get sidecar() { return running().sidecar; },
    get url() { return running().url; },
    get log() { return running().log; },
    get clock() { return running().clock; },
    get dir() { return dir; },
    post: (body, init) => running().post(body, init),
    get: (path) => running().get(path),
    close: () => running().close(),
  };
}

/** Polls `check` until it returns true, or fails after `timeoutMs`. */
export async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Asserts a response is the catalog's error shape with this status, code and message. */
export async function expectError(res: Response, status: number, code: string, message: RegExp): Promise<void> {
  const text = await res.text();
  expect(res.status, text).toBe(status);
  expect(res.headers.get('content-type')).toBe('application/json');
  const json = JSON.parse(text) as { error: { code: string; message: string } };
  expect(Object.keys(json)).toEqual(['error']);
  expect(Object.keys(json.error).sort()).toEqual(['code', 'message']);
  expect(json.error.code).toBe(code);
  expect(json.error.message).toMatch(message);
}
