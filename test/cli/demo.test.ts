/**
 * `npm start` runs `larder demo`: this runs the same command as a real
 * process, sends the request of the curl it prints, and stops it.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { DEMO_COMMAND } from '../../src/cli/demo.js';

const CLI = join(process.cwd(), 'dist/src/cli.js');

describe('larder demo', () => {
  it('builds, serves, prints a curl that works, and stops on SIGTERM', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'larder-demo-')), 'demo');
    const child = spawn(process.execPath, [CLI, 'demo', '--dir', dir, '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const curl = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no curl printed in 45 s\nstdout: ${out}\nstderr: ${err}`)), 45_000);
      child.stdout.on('data', (d) => {
        out += d;
        const line = out.split('\n').find((l) => l.startsWith('curl -s '));
        if (line) {
          clearTimeout(timer);
          resolve(line);
        }
      });
    });
    // curl -s <url> -d '<body>'
    const m = /^curl -s (\S+) -d '(.+)'$/.exec(curl);
    expect(m, curl).not.toBeNull();
    const res = await fetch(m![1]!, { method: 'POST', body: m![2]! });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { metadata: { feature_names: string[] }; results: { statuses: string[] }[] };
    expect(body.metadata.feature_names).toEqual(['user_id', 'clicks_7d', 'ctr_7d', 'country', 'is_vip']);
    expect(body.results[1]!.statuses).toEqual(['PRESENT', 'OUTSIDE_MAX_AGE', 'NOT_FOUND']);
    expect(out).toMatch(/Built .*demo_shop-v1\.larder/);

    child.kill('SIGTERM');
    expect(await exited).toBe(0);
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
