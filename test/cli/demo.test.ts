/**
 * `npm start` runs `larder demo`: this runs the same command as a real
 * process, sends the request of the curl it prints, and stops it.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

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
});
