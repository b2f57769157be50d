/**
 * `npm start` runs `larder demo`: these run the same command as a real
 * process, send the request of the curl it prints, and stop it; run it again
 * on the same folder; and run it on a port that is taken.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { type Server, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { DEMO_COMMAND } from '../../src/cli/demo.js';

const CLI = join(process.cwd(), 'dist/src/cli.js');

interface Demo {
  child: ChildProcess;
  curl: string;
  out: string;
  exited: Promise<number | null>;
}

/** Starts `larder demo` and resolves once it has printed its curl. */
function startDemo(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<Demo> {
  const child = spawn(process.execPath, [CLI, 'demo', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
  let out = '';
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return new Promise<Demo>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no curl printed in 45 s\nstdout: ${out}\nstderr: ${err}`)), 45_000);
    void exited.then((code) => reject(new Error(`demo exited with ${code}\nstdout: ${out}\nstderr: ${err}`)));
    child.stdout!.on('data', (d) => {
      out += d;
      const line = out.split('\n').find((l) => l.startsWith('curl -s '));
      if (line) {
        clearTimeout(timer);
        resolve({ child, curl: line, out, exited });
      }
    });
  });
}

async function stop(demo: Demo): Promise<void> {
  demo.child.kill('SIGTERM');
  expect(await demo.exited).toBe(0);
}

/** Runs `larder demo` to its exit. */
function runDemo(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [CLI, 'demo', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, stdout, stderr })));
}

/** Holds a port on 127.0.0.1, as another program would. */
async function holdPort(): Promise<{ server: Server; port: number }> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as { port: number }).port };
}

const demoDir = () => join(mkdtempSync(join(tmpdir(), 'larder-demo-')), 'demo');

describe('larder demo', () => {
  it('builds, serves, prints a curl that works, and stops on SIGTERM', async () => {
    const demo = await startDemo(['--dir', demoDir(), '--port', '0']);
    // curl -s <url> -d '<body>'
    const m = /^curl -s (\S+) -d '(.+)'$/.exec(demo.curl);
    expect(m, demo.curl).not.toBeNull();
    const res = await fetch(m![1]!, { method: 'POST', body: m![2]! });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { metadata: { feature_names: string[] }; results: { statuses: string[] }[] };
    expect(body.metadata.feature_names).toEqual(['user_id', 'clicks_7d', 'ctr_7d', 'country', 'is_vip']);
    expect(body.results[1]!.statuses).toEqual(['PRESENT', 'OUTSIDE_MAX_AGE', 'NOT_FOUND']);
    expect(demo.out).toMatch(/Built .*demo_shop-v1\.larder/);
    await stop(demo);
  });

  it('run again on the same folder, it replaces the earlier bundles instead of piling up versions', async () => {
    const dir = demoDir();
    await stop(await startDemo(['--dir', dir, '--port', '0']));
    const bundles = join(dir, 'bundles');
    // Versions an older larder piled up, and a file that is not a demo bundle.
    writeFileSync(join(bundles, 'demo_shop-v2.larder'), 'an earlier run');
    writeFileSync(join(bundles, 'demo_shop-v2.larder.manifest.json'), '{}');
    writeFileSync(join(bundles, 'notes.txt'), 'mine');

    const second = await startDemo(['--dir', dir, '--port', '0']);
    expect(second.out).toMatch(/Built .*demo_shop-v1\.larder/);
    expect(second.out).toContain('bundle demo_shop v1)');
    const res = await fetch(/^curl -s (\S+)/.exec(second.curl)![1]!, { method: 'POST', body: /-d '(.+)'$/.exec(second.curl)![1]! });
    expect(res.status).toBe(200);
    await stop(second);
    expect(readdirSync(bundles).sort()).toEqual(['demo_shop-v1.larder', 'demo_shop-v1.larder.manifest.json', 'notes.txt']);
  });

  it('fails at once, before building, on a taken --port, naming the port and how to choose another', async () => {
    const { server, port } = await holdPort();
    try {
      const dir = demoDir();
      const r = await runDemo(['--dir', dir, '--port', String(port)]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`larder: LARDER_ERR_LISTEN: port ${port} on 127.0.0.1 is already in use`);
      expect(r.stderr).toContain('--port <port> or LARDER_PORT=<port>');
      expect(r.stdout).not.toContain('Built');
      expect(existsSync(dir)).toBe(false);
    } finally {
      server.close();
    }
  });

  it('takes its port from LARDER_PORT, and checks it first too', async () => {
    const { server, port } = await holdPort();
    try {
      const dir = demoDir();
      const r = await runDemo(['--dir', dir], { ...process.env, LARDER_PORT: String(port) });
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`port ${port} on 127.0.0.1 is already in use`);
      expect(existsSync(dir)).toBe(false);
    } finally {
      server.close();
    }
    // Free again, the same LARDER_PORT serves the demo there.
    const demo = await startDemo(['--dir', demoDir()], { ...process.env, LARDER_PORT: String(port) });
    expect(demo.curl).toContain(`http://127.0.0.1:${port}/get-online-features`);
    await stop(demo);
  });

  it('rejects a bad --port before building', async () => {
    const dir = demoDir();
    const r = await runDemo(['--dir', dir, '--port', 'sixty']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^larder: LARDER_ERR_OPTION: --port \(LARDER_PORT\)/);
    expect(existsSync(dir)).toBe(false);
  });

  const exec = promisify(execFile);
  async function demo(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
    try {
      const { stdout, stderr } = await exec(process.execPath, [CLI, 'demo', ...args], { env: { PATH: process.env.PATH ?? '', ...env } });
      return { code: 0, stdout, stderr };
    } catch (e) {
      const err = e as { code: number; stdout: string; stderr: string };
      return { code: err.code, stdout: err.stdout, stderr: err.stderr };
    }
  }

  it('a bad flag or environment variable exits 2 naming both, before writing anything', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'larder-demo-')), 'demo');
    const flag = await demo(['--dir', dir, '--port', 'abc']);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toBe('larder: LARDER_ERR_OPTION: --port (LARDER_PORT) must be an integer from 0 to 65535, got "abc" from --port\nRun "larder demo --help" for the options.\n');
    const env = await demo(['--dir', dir], { LARDER_MAX_ENTITIES: 'many' });
    expect(env.code).toBe(2);
    expect(env.stderr).toMatch(/^larder: LARDER_ERR_OPTION: --max-entities \(LARDER_MAX_ENTITIES\) .*got "many" from LARDER_MAX_ENTITIES$/m);
    const unknown = await demo(['--dir', dir, '--bundles', dir]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/^larder: LARDER_ERR_USAGE: Unknown option '--bundles'/);
    expect(existsSync(dir)).toBe(false);
  });

  it('a --dir that cannot be written exits 2 naming the flag and its variable', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'larder-demo-')), 'a-file');
    writeFileSync(file, 'x');
    const r = await demo([], { LARDER_DEMO_DIR: file });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`^larder: LARDER_ERR_OPTION: --dir \\(LARDER_DEMO_DIR\\): cannot write the demo repo to ${file}: .*ENOTDIR`, 'm'));
  });

  it('--help lists every option of its table: --dir and the sidecar\'s own', async () => {
    const r = await demo(['--help']);
    expect(r.code).toBe(0);
    const flags = DEMO_COMMAND.options.map((o) => o.flag);
    expect(flags).toEqual(expect.arrayContaining(['--dir', '--port', '--host', '--max-entities']));
    expect(flags).not.toContain('--bundles');
    for (const o of DEMO_COMMAND.options) {
      expect(r.stdout).toContain(`  ${o.flag} ${o.valueName ?? ''}`.trimEnd());
      expect(r.stdout).toContain(`env ${o.env}`);
    }
  });
});

