/**
 * `larder keygen` and `larder build --sign-key` as a user runs them (the
 * compiled CLI in a child process), then a sidecar trusting the public key
 * serving the signed build.
 */
import { execFile } from 'node:child_process';
import { readFile, readdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSidecar } from '../../src/sidecar/serve.js';
import { silentLogger } from '../../src/sidecar/log.js';
import { DataFiles, removeTempDirs, tempDir, writeDriverRepo } from './helpers.js';

const CLI = resolve(import.meta.dirname, '../../dist/src/cli.js');
const exec = promisify(execFile);

async function larder(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await exec(process.execPath, [CLI, ...args]);
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code?: number; stdout: string; stderr: string };
    return { code: err.code ?? -1, stdout: err.stdout, stderr: err.stderr };
  }
}

let data: DataFiles;
let repoDir: string;

beforeAll(async () => {
  data = await DataFiles.open();
  repoDir = await tempDir();
  const t = new Date('2024-01-01T00:00:00Z');
  await writeDriverRepo(data, repoDir, 'signed', [[1, t, 4.5], [2, t, 3.9]]);
}, 120_000);

afterAll(async () => {
  data.close();
  await removeTempDirs();
});

describe('larder keygen and build --sign-key', () => {
  it('writes a key pair whose names tell private from public, signs a build, and a sidecar with the public key serves it', async () => {
    const keys = await tempDir();
    const gen = await larder(['keygen', '--out', keys, '--json']);
    expect(gen.code).toBe(0);
    const { keyId, privateKeyFile, publicKeyFile } = JSON.parse(gen.stdout) as Record<string, string>;
    expect(keyId).toMatch(/^[0-9a-f]{16}$/);
    expect(privateKeyFile).toBe(join(keys, `larder-${keyId}.private.jwk`));
    expect(publicKeyFile).toBe(join(keys, `larder-${keyId}.public.jwk`));
    expect((await stat(privateKeyFile!)).mode & 0o777).toBe(0o600);
    expect(JSON.parse(await readFile(publicKeyFile!, 'utf8'))).not.toHaveProperty('d');

    const out = await tempDir();
    // A public key cannot sign; the build fails before it reads any data.
    const wrong = await larder(['build', repoDir, '--out', out, '--sign-key', publicKeyFile!]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain('LARDER_ERR_KEY');
    expect(await readdir(out)).toEqual([]);
    const noKey = await larder(['build', repoDir, '--out', out, '--expires-in', '7d']);
    expect(noKey.code).toBe(2);

    const built = await larder(['build', repoDir, '--out', out, '--sign-key', privateKeyFile!, '--expires-in', '7d', '--as-of', '2024-02-01']);
    expect(built.code, built.stderr).toBe(0);
    const sig = JSON.parse(await readFile(join(out, 'signed-v1.larder.sig'), 'utf8')) as { statement: string };
    const statement = JSON.parse(sig.statement) as { project: string; version: number; keyId: string; expiresAt: string };
    expect([statement.project, statement.version, statement.keyId]).toEqual(['signed', 1, keyId]);
    expect(Date.parse(statement.expiresAt) - Date.now()).toBeGreaterThan(7 * 86_400_000 - 60_000);

    const sidecar = await startSidecar(
      { bundles: out, host: '127.0.0.1', port: 0, cacheMaxBytes: 0, maxBodyBytes: 1 << 20, maxEntities: 100, pollMs: 1000, shutdownGraceMs: 100, serveStale: false, maxConnections: 10, maxBundleBytes: 1 << 30, publicKeys: [publicKeyFile!] },
      { log: silentLogger },
    );
    try {
      const res = await fetch(`${sidecar.url}/get-online-features`, { method: 'POST', body: JSON.stringify({ features: ['driver_stats:rating'], entities: { driver_id: [1] } }) });
      expect(res.status).toBe(200);
      expect(((await res.json()) as { results: { values: unknown[] }[] }).results[1]!.values).toEqual([4.5]);
    } finally {
      await sidecar.close(100);
    }
  }, 60_000);
});
