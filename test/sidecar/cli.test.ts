/**
 * The sidecar as users run it: `node dist/src/cli.js serve ...` in a child
 * process (build first: `npx tsc -p tsconfig.json`; `npm test` does). It
 * answers over HTTP, refuses bad options with exit 2 and the error's code, and on SIGTERM stops
 * accepting, completes the requests in flight and exits 0.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, statSync, readdirSync } from 'node:fs';
import { Agent, request as httpRequest } from 'node:http';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SERVE_OPTIONS } from '../../src/sidecar/options.js';
import { removeDir, tempDir, writeShopBundle } from './helpers.js';

const ROOT = resolve(import.meta.dirname, '../..');
const CLI = join(ROOT, 'dist/src/cli.js');

beforeAll(() => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run "npx tsc -p tsconfig.json" first`);
  // A stale build would test old code: every sidecar source must be older than its output.
  for (const name of readdirSync(join(ROOT, 'src/sidecar')).filter((n) => n.endsWith('.ts'))) {
    const out = join(ROOT, 'dist/src/sidecar', name.replace(/\.ts$/, '.js'));
    if (!existsSync(out) || statSync(out).mtimeMs < statSync(join(ROOT, 'src/sidecar', name)).mtimeMs) {
      throw new Error(`${out} is older than its source: run "npx tsc -p tsconfig.json" first`);
    }
  }
});

let dir: string;
beforeAll(async () => {
  dir = await tempDir();
  await writeShopBundle(dir, 1);
});
afterAll(async () => {
  await removeDir(dir);
});

interface Cli {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
}

function startCli(args: string[], env: Record<string, string> = {}): Cli {
  const child = spawn(process.execPath, [CLI, ...args], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return { child, stdout: () => out, stderr: () => err, exited };
}

async function waitFor(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Starts `larder serve` on a free port and resolves once it prints its listening line. */
async function serve(extra: string[] = [], env: Record<string, string> = {}): Promise<Cli & { url: string }> {
  const cli = startCli(['serve', '--bundles', dir, '--port', '0', ...extra], env);
  await waitFor(() => /listening on http:\/\/\S+/.test(cli.stdout()) || cli.child.exitCode !== null, 'the listening line');
  const m = /listening on (http:\/\/\S+)/.exec(cli.stdout());
  if (!m) throw new Error(`sidecar did not start: ${cli.stderr()}`);
  return { ...cli, url: m[1]! };
}

const body = JSON.stringify({ features: ['user_stats:clicks'], entities: { user_id: [1] } });

/** A POST whose body is sent in two halves; `finish()` sends the second. */
function slowPost(url: string): { response: Promise<{ status: number; body: string }>; finish(): void } {
  const u = new URL(url);
  const req = httpRequest({ host: u.hostname, port: u.port, path: '/get-online-features', method: 'POST', headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' } });
  const response = new Promise<{ status: number; body: string }>((resolveResponse, reject) => {
    req.on('response', (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolveResponse({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
  });
  req.write(body.slice(0, 20));
  return { response, finish: () => req.end(body.slice(20)) };
}

describe('larder serve (CLI)', () => {
  it('prints one listening line with host, port and bundle version, and answers', async () => {
    const cli = await serve();
    try {
      expect(cli.stdout().trim().split('\n')).toHaveLength(1);
      expect(cli.stdout()).toMatch(/listening on http:\/\/127\.0\.0\.1:\d+ \(host 127\.0\.0\.1, port \d+, bundle shop v1\)/);
      const res = await fetch(`${cli.url}/get-online-features`, { method: 'POST', body });
      expect(res.status).toBe(200);
      expect(res.headers.get('x-larder-bundle-version')).toBe('1');
      // The fixture's row is from 2026-01-01 with a 1 h TTL: a hole today, read as the default.
      const got = (await res.json()) as { results: { values: unknown[]; statuses: string[] }[] };
      expect([got.results[1]!.values, got.results[1]!.statuses]).toEqual([[0], ['OUTSIDE_MAX_AGE']]);
    } finally {
      cli.child.kill('SIGTERM');
      expect(await cli.exited).toBe(0);
    }
  });

  it('on SIGTERM stops accepting, completes slow in-flight requests and exits 0', async () => {
    // LARDER_SERVE_STALE answers the stale row's own value (10) instead of the default.
    const cli = await serve(['--shutdown-grace-ms', '8000'], { LARDER_SERVE_STALE: 'true' });
    const slow = [slowPost(cli.url), slowPost(cli.url), slowPost(cli.url)];
    // Let the server receive the headers and first half of every body.
    await new Promise((r) => setTimeout(r, 200));
    cli.child.kill('SIGTERM');
    await waitFor(() => cli.stderr().includes('SIGTERM: not accepting new connections'), 'the shutdown log line');
    // No new connections once shutdown began.
    await expect(fetch(`${cli.url}/health`)).rejects.toThrow();
    // The process waits for the requests in flight.
    await new Promise((r) => setTimeout(r, 300));
    expect(cli.child.exitCode).toBeNull();
    for (const s of slow) s.finish();
    const answers = await Promise.all(slow.map((s) => s.response));
    for (const a of answers) {
      expect(a.status).toBe(200);
      expect((JSON.parse(a.body) as { results: { values: unknown[] }[] }).results[1]!.values).toEqual([10]);
    }
    expect(await cli.exited).toBe(0);
    expect(cli.stderr()).toContain('all requests answered; stopped');
  });

  it('on SIGTERM with many concurrent requests in flight answers every one and exits 0', async () => {
    const cli = await serve();
    const inFlight = Array.from({ length: 20 }, () => slowPost(cli.url));
    await new Promise((r) => setTimeout(r, 300));
    cli.child.kill('SIGTERM');
    await waitFor(() => cli.stderr().includes('SIGTERM'), 'the shutdown log line');
    for (const r of inFlight) r.finish();
    const answers = await Promise.all(inFlight.map((r) => r.response));
    expect(answers.map((a) => a.status)).toEqual(Array(20).fill(200));
    expect(await cli.exited).toBe(0);
  });

  it('idle keep-alive connections do not hold up shutdown', async () => {
    const cli = await serve();
    const agent = new Agent({ keepAlive: true });
    const u = new URL(cli.url);
    await new Promise<void>((done, reject) => {
      const req = httpRequest({ host: u.hostname, port: u.port, path: '/health', agent }, (res) => {
        res.resume();
        res.on('end', () => done());
      });
      req.on('error', reject);
      req.end();
    });
    const t0 = Date.now();
    cli.child.kill('SIGTERM');
    expect(await cli.exited).toBe(0);
    expect(Date.now() - t0).toBeLessThan(2000);
    agent.destroy();
  });

  it('cuts requests that outlast --shutdown-grace-ms, then exits 0', async () => {
    const cli = await serve(['--shutdown-grace-ms', '300']);
    const stuck = slowPost(cli.url);
    stuck.response.catch(() => {});
    await new Promise((r) => setTimeout(r, 150));
    const t0 = Date.now();
    cli.child.kill('SIGTERM');
    expect(await cli.exited).toBe(0);
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(cli.stderr()).toMatch(/cut 1 connection\(s\) still open after 300 ms/);
  });

  it('reads its options from the environment', async () => {
    const cli = startCli(['serve'], { LARDER_BUNDLES: dir, LARDER_PORT: '0', LARDER_MAX_ENTITIES: '1' });
    try {
      await waitFor(() => /listening on/.test(cli.stdout()), 'the listening line');
      const url = /listening on (http:\/\/\S+)/.exec(cli.stdout())![1]!;
      const res = await fetch(`${url}/get-online-features`, { method: 'POST', body: JSON.stringify({ features: ['user_stats:clicks'], entities: { user_id: [1, 2] } }) });
      expect(res.status).toBe(413);
      expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/more than the limit of 1/);
    } finally {
      cli.child.kill('SIGINT');
      expect(await cli.exited).toBe(0);
    }
  });

  it('starts without a bundle (ready 503) and becomes ready when one appears', async () => {
    const empty = await tempDir();
    try {
      const cli = startCli(['serve', '--bundles', empty, '--port', '0', '--poll-ms', '50']);
      await waitFor(() => /listening on/.test(cli.stdout()), 'the listening line');
      expect(cli.stdout()).toContain('no bundle yet');
      const url = /listening on (http:\/\/\S+)/.exec(cli.stdout())![1]!;
      expect((await fetch(`${url}/ready`)).status).toBe(503);
      await writeShopBundle(empty, 2);
      const deadline = Date.now() + 5000;
      while ((await fetch(`${url}/ready`)).status !== 200) {
        if (Date.now() > deadline) throw new Error('not ready after the bundle appeared');
        await new Promise((r) => setTimeout(r, 25));
      }
      cli.child.kill('SIGTERM');
      expect(await cli.exited).toBe(0);
    } finally {
      await removeDir(empty);
    }
  });
});

describe('larder serve refuses bad options', () => {
  const cases: [string, string[], Record<string, string>, RegExp][] = [
    ['a bad --port', ['--bundles', '.', '--port', 'abc'], {}, /^larder: LARDER_ERR_OPTION: --port \(LARDER_PORT\) must be an integer from 0 to 65535, got "abc" from --port$/m],
    ['a bad environment variable', ['--bundles', '.'], { LARDER_MAX_BODY_BYTES: 'lots' }, /^larder: LARDER_ERR_OPTION: --max-body-bytes \(LARDER_MAX_BODY_BYTES\) must be at least 2.*got "lots" from LARDER_MAX_BODY_BYTES$/m],
    ['no --bundles', [], {}, /^larder: LARDER_ERR_OPTION: --bundles \(or LARDER_BUNDLES\) is required/m],
    ['an unknown flag', ['--bundles', '.', '--prot', '1'], {}, /^larder: LARDER_ERR_USAGE: Unknown option '--prot'/m],
    ['--bundles naming a file', ['--bundles', CLI], {}, /^larder: LARDER_ERR_OPTION: --bundles \(LARDER_BUNDLES\) must be a directory/m],
  ];
  for (const [name, args, env, message] of cases) {
    it(`${name}: exit 2 with a message naming the flag`, async () => {
      const cli = startCli(['serve', ...args], env);
      expect(await cli.exited).toBe(2);
      expect(cli.stderr()).toMatch(message);
      expect(cli.stderr()).toContain('Run "larder serve --help" for the options.');
      expect(cli.stdout()).toBe('');
    });
  }

  it('--help lists every option of the table with its variable and exits 0', async () => {
    const cli = startCli(['serve', '--help']);
    expect(await cli.exited).toBe(0);
    expect(cli.stdout()).toContain('usage: larder serve --bundles <dir> [options]');
    for (const o of SERVE_OPTIONS) {
      expect(cli.stdout()).toContain(`  ${o.flag} ${o.valueName ?? ''}`.trimEnd());
      expect(cli.stdout()).toContain(`env ${o.env}`);
    }
  });

  it('a port already in use: exit 1 naming the address', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    const port = (blocker.address() as { port: number }).port;
    try {
      const cli = startCli(['serve', '--bundles', dir, '--port', String(port)]);
      expect(await cli.exited).toBe(1);
      expect(cli.stderr()).toMatch(new RegExp(`^larder: LARDER_ERR_LISTEN: cannot listen on 127\\.0\\.0\\.1:${port}: .*EADDRINUSE.*choose another with --port or LARDER_PORT`, 'm'));
      expect(cli.stderr()).not.toContain('--help');
    } finally {
      blocker.close();
    }
  });
});
