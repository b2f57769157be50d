/**
 * The `larder build` and `larder catalog` commands as a user runs them: the
 * compiled CLI in a child process, real files, exit codes and output.
 */
import { execFile } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { readdir, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUILD_OPTIONS } from '../../bundle-builder/commands/build.js';
import { CATALOG_OPTIONS } from '../../bundle-builder/commands/catalog.js';
import { openBundle } from '../../src/bundle-file.js';
import { DataFiles, removeTempDirs, tempDir, writeConfig } from './helpers.js';

const ROOT = resolve(import.meta.dirname, '../..');
const CLI = join(ROOT, 'dist', 'src', 'cli.js');
const exec = promisify(execFile);

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function larder(args: string[], env: Record<string, string> = {}): Promise<Run> {
  try {
    const { stdout, stderr } = await exec(process.execPath, [CLI, ...args], { cwd: ROOT, env: { ...process.env, ...env } });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code?: number; stdout: string; stderr: string };
    return { code: err.code ?? -1, stdout: err.stdout, stderr: err.stderr };
  }
}

let data: DataFiles;
let repoDir: string;

/** Newest mtime (ms) of the .ts files under `dir`. */
async function newestSource(dir: string): Promise<number> {
  let newest = 0;
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile() && entry.name.endsWith('.ts')) newest = Math.max(newest, (await stat(join(entry.parentPath, entry.name))).mtimeMs);
  }
  return newest;
}

beforeAll(async () => {
  // The CLI runs from dist/. Compile when it is missing or older than the
  // sources (`npm test` compiles first; recompiling needlessly would rewrite
  // dist/ under other test files that load it). Errors in others' unfinished
  // files do not stop tsc from emitting ours.
  const built = existsSync(CLI) ? Math.min(...[CLI, join(ROOT, 'dist', 'bundle-builder', 'build.js')].map((f) => (existsSync(f) ? statSync(f).mtimeMs : 0))) : 0;
  const sources = Math.max(await newestSource(join(ROOT, 'src')), await newestSource(join(ROOT, 'bundle-builder')));
  if (built < sources) {
    await exec(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], { cwd: ROOT }).catch(() => undefined);
  }
  expect(existsSync(CLI)).toBe(true);
  data = await DataFiles.open();
  repoDir = await tempDir();
  const t = new Date('2024-01-01T00:00:00Z');
  await data.write(join(repoDir, 'data', 'drivers.parquet'), { driver_id: 'BIGINT', event_ts: 'TIMESTAMP', rating: 'DOUBLE' }, [
    [1, t, 4.5], [1, t, 4.8], [2, t, 3.9],
  ]);
  await writeConfig(repoDir, {
    project: 'cli',
    entities: [{ name: 'driver', joinKeys: ['driver_id'] }],
    sources: [{ name: 'drivers', path: 'data/*.parquet', timestampField: 'event_ts' }],
    featureViews: [{
      name: 'driver_stats', entities: ['driver'], source: 'drivers', ttlSeconds: 3600, owner: 'rides-ml',
      description: 'Driver quality', tags: { team: 'rides' },
      features: [{ name: 'rating', dtype: 'float64', description: 'Average rating', default: 5 }],
    }],
  }, 'ts');
}, 120_000);

afterAll(async () => {
  data.close();
  await removeTempDirs();
});

describe('larder build', () => {
  it('builds, prints progress on stderr and a summary on stdout, warns about ties', async () => {
    const out = join(await tempDir(), 'bundles');
    const r = await larder(['build', repoDir, '--out', out, '--as-of', '2024-02-01']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('built cli v1 as of 2024-02-01T00:00:00.000Z');
    expect(r.stdout).toMatch(/driver_stats\s+2\s+3\s+3\s+all keys/);
    expect(r.stdout).toMatch(/^bytes: +[\d.]+ KiB \(\d+\)$/m);
    expect(r.stdout).toMatch(/^seconds: +[\d.]+ \(read /m);
    expect(r.stdout).toContain(`output:   ${join(out, 'cli-v1.larder')}`);
    expect(r.stdout).toContain('warnings: 1');
    expect(r.stderr).toContain('feature view "driver_stats": snapshot holds 2 keys');
    expect(r.stderr).toMatch(/larder: warning: feature view "driver_stats": for 1 keys/);
    const bundle = await openBundle(join(out, 'cli-v1.larder'));
    expect(bundle.get('driver_stats', 1)).toEqual({ rating: 4.8 });

    const again = await larder(['build', repoDir, '--json'], { LARDER_OUT: out, LARDER_AS_OF: '2024-02-01T00:00:00Z' });
    expect(again.code).toBe(0);
    const summary = JSON.parse(again.stdout) as { version: number; parentVersion: number; path: string; views: { keys: number }[] };
    expect([summary.version, summary.parentVersion, summary.views[0]!.keys]).toEqual([2, 1, 2]);
  });

  it('hot keys and --hot-limit from the command line', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'hot.txt'), 'driver_id,count\n1,3\n2,9\n');
    const r = await larder(['build', repoDir, '--out', dir, '--hot-keys', join(dir, 'hot.txt'), '--hot-limit', '1']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/driver_stats\s+1 .*1 of 1 listed/);
    expect(r.stdout).toMatch(/hot keys: 1 of 2 distinct keys/);
  });

  it('exits 1 naming the file on a bad config', async () => {
    const dir = await tempDir();
    const file = await writeConfig(dir, { project: 'bad', entities: [], sources: [], featureViews: [{ name: 'v', entities: ['ghost'], source: 's', ttlSeconds: 0, features: [] }] });
    const r = await larder(['build', dir, '--out', join(dir, 'out')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('larder: LARDER_ERR_CONFIG: invalid feature repo:');
    expect(r.stderr).toContain(`${file}: feature view "v": field "entities": unknown entity "ghost"`);
    expect(r.stdout).toBe('');
  });

  it('exits 1 on a repo without a config', async () => {
    const dir = await tempDir();
    const r = await larder(['build', dir, '--out', join(dir, 'out')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/LARDER_ERR_CONFIG_NOT_FOUND: no feature repo config in .* \(looked for larder\.config\.ts/);
  });

  it('exits 2 (LARDER_ERR_OPTION) on a bad value, naming the flag, its variable and where the value came from', async () => {
    const cases: [string[], Record<string, string>, RegExp][] = [
      [['--as-of', 'yesterday'], {}, /LARDER_ERR_OPTION: --as-of \(LARDER_AS_OF\) must be an ISO 8601 time .*got "yesterday" from --as-of/],
      [['--as-of', '2024-13-45'], {}, /--as-of \(LARDER_AS_OF\) must be a valid date and time/],
      [['--as-of', '2024-02-30'], {}, /--as-of \(LARDER_AS_OF\) must be a valid date and time/],
      [[], { LARDER_AS_OF: '2024-02-30' }, /LARDER_ERR_OPTION: --as-of \(LARDER_AS_OF\) .*got "2024-02-30" from LARDER_AS_OF/],
      [['--hot-limit=-1'], {}, /--hot-limit \(LARDER_HOT_LIMIT\) must be an integer >= 0, got "-1" from --hot-limit/],
      [[], { LARDER_HOT_LIMIT: 'ten' }, /LARDER_ERR_OPTION: --hot-limit \(LARDER_HOT_LIMIT\) must be an integer >= 0, got "ten" from LARDER_HOT_LIMIT/],
      [[], { LARDER_THREADS: '0' }, /--threads \(LARDER_THREADS\) must be an integer >= 1, got "0" from LARDER_THREADS/],
      [[], { LARDER_JSON: 'sure' }, /--json \(LARDER_JSON\) must be true or false .*got "sure" from LARDER_JSON/],
    ];
    for (const [args, env, message] of cases) {
      const r = await larder(['build', repoDir, '--out', '/tmp/x', ...args], { LARDER_OUT: '', ...env });
      expect({ args, env, code: r.code }).toEqual({ args, env, code: 2 });
      expect(r.stderr).toMatch(message);
      expect(r.stderr).toContain('Run "larder build --help" for the options.');
      expect(r.stdout).toBe('');
    }
  });

  it('exits 2 on a wrong command line (LARDER_ERR_USAGE) or a missing option (LARDER_ERR_OPTION)', async () => {
    const cases: [string[], RegExp][] = [
      [['build', repoDir, '--out', '/tmp/x', '--frobnicate'], /^larder: LARDER_ERR_USAGE: Unknown option '--frobnicate'/],
      [['build', repoDir, '--out'], /^larder: LARDER_ERR_USAGE: .*--out/],
      [['build', repoDir, 'other', '--out', '/tmp/x'], /^larder: LARDER_ERR_USAGE: expected <repo>, got 2 arguments/],
      [['build', repoDir], /^larder: LARDER_ERR_OPTION: --out \(or LARDER_OUT\) is required/],
      [['build', '--out', '/tmp/x'], /^larder: LARDER_ERR_USAGE: missing <repo>: The feature repo folder/],
    ];
    for (const [args, message] of cases) {
      const r = await larder(args, { LARDER_OUT: '' });
      expect({ args, code: r.code }).toEqual({ args, code: 2 });
      expect(r.stderr).toMatch(message);
      expect(r.stderr).toContain('larder build --help');
    }
  });

  it('exits 1 with LARDER_ERR_BUNDLE_DIR when --out is a file', async () => {
    const dir = await tempDir();
    const file = join(dir, 'not-a-folder');
    await writeFile(file, 'x');
    const r = await larder(['build', repoDir, '--out', file]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^larder: LARDER_ERR_BUNDLE_DIR: cannot list bundle folder ${file}: ENOTDIR`, 'm'));
    expect(r.stderr).not.toContain('    at ');
  });

  it('--help documents every option of the table with its environment variable', async () => {
    const r = await larder(['build', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('usage: larder build <repo> --out <dir> [options]');
    expect(r.stdout).toContain('<repo>');
    for (const o of BUILD_OPTIONS) {
      expect(r.stdout).toContain(`  ${o.flag}`);
      expect(r.stdout).toContain(`env ${o.env}`);
    }
  });
});

describe('larder catalog', () => {
  it('lists views and features with dtype, owner, ttl, tags and description', async () => {
    const r = await larder(['catalog', repoDir]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('driver_stats - Driver quality');
    expect(r.stdout).toMatch(/ttl: 1h .*owner: rides-ml .*tags: team=rides/);
    expect(r.stdout).toMatch(/rating +float64 +5 +Average rating/);
  });

  it('filters by a query, and prints JSON', async () => {
    expect((await larder(['catalog', repoDir, 'RIDES'])).stdout).toContain('rating');
    expect((await larder(['catalog', repoDir, 'nothing-like-this'])).stdout).toContain('(no matching features)');
    const json = JSON.parse((await larder(['catalog', repoDir, 'average', '--json'])).stdout) as { feature: string }[];
    expect(json.map((e) => e.feature)).toEqual(['rating']);
  });

  it('exit codes: 2 for bad arguments, 1 for a bad config', async () => {
    const none = await larder(['catalog']);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/^larder: LARDER_ERR_USAGE: missing <repo>/);
    const flag = await larder(['catalog', repoDir, '--nope']);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toMatch(/^larder: LARDER_ERR_USAGE: Unknown option '--nope'/);
    expect(flag.stderr).toContain('Run "larder catalog --help" for the options.');
    const env = await larder(['catalog', repoDir], { LARDER_JSON: 'sure' });
    expect(env.code).toBe(2);
    expect(env.stderr).toMatch(/^larder: LARDER_ERR_OPTION: --json \(LARDER_JSON\) must be true or false .*got "sure" from LARDER_JSON/);
    expect(env.stdout).toBe('');
    const dir = await tempDir();
    await writeFile(join(dir, 'larder.config.json'), '{');
    const r = await larder(['catalog', dir]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`larder: LARDER_ERR_CONFIG: ${join(dir, 'larder.config.json')}: invalid JSON`);
  });

  it('LARDER_JSON=1 prints JSON like --json', async () => {
    const r = await larder(['catalog', repoDir, 'average'], { LARDER_JSON: '1' });
    expect(r.code).toBe(0);
    expect((JSON.parse(r.stdout) as { feature: string }[]).map((e) => e.feature)).toEqual(['rating']);
  });

  it('--help documents the arguments and every option of the table', async () => {
    const r = await larder(['catalog', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('usage: larder catalog <repo> [query] [options]');
    for (const o of CATALOG_OPTIONS) {
      expect(r.stdout).toContain(`  ${o.flag}`);
      expect(r.stdout).toContain(`env ${o.env}`);
    }
  });
});

describe('larder', () => {
  it('an unknown command exits 2 with LARDER_ERR_USAGE naming the commands', async () => {
    const r = await larder(['frobnicate']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^larder: LARDER_ERR_USAGE: unknown command "frobnicate" \(commands: build, catalog, serve, demo, keygen, rollback, origin, diff\)/);
    expect((await larder(['constructor'])).code).toBe(2);
  });
});
