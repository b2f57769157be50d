/**
 * Loading a feature repo's config: every format, `import ... from 'larder-features'`
 * from a folder outside the larder checkout, and load errors that name the
 * file.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LarderError } from '../../src/core/errors.js';
import { CONFIG_NAMES, loadRepo } from '../../bundle-builder/config.js';
import { removeTempDirs, tempDir, writeConfig } from './helpers.js';

afterAll(removeTempDirs);

const REPO = {
  project: 'cfg',
  entities: [{ name: 'driver', joinKeys: ['driver_id'] }],
  sources: [{ name: 's', path: 'data.parquet', timestampField: 'ts' }],
  featureViews: [{ name: 'v', entities: ['driver'], source: 's', ttlSeconds: 60, features: [{ name: 'x', dtype: 'float64' }] }],
};

async function loadError(dir: string): Promise<LarderError> {
  const e = await loadRepo(dir).then(() => undefined, (err: unknown) => err);
  expect(e).toBeInstanceOf(LarderError);
  return e as LarderError;
}

describe('loadRepo', () => {
  it('loads larder.config.ts importing defineRepo from "larder-features", in a folder outside the checkout', async () => {
    const dir = await tempDir();
    expect(dir.startsWith('/work/main')).toBe(false);
    const file = await writeConfig(dir, REPO, 'ts');
    const loaded = await loadRepo(dir);
    expect(loaded.file).toBe(file);
    expect(loaded.repo).toEqual({ ...REPO, featureServices: [] });
  });

  it('loads TypeScript with types, helpers and a named `repo` export', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'larder.config.ts'), `
import { defineEntity, defineFeatureView, defineRepo, defineSource, type Dtype } from 'larder-features';
const dtype: Dtype = 'int64';
const driver = defineEntity({ name: 'driver', joinKeys: ['driver_id'] });
const s = defineSource({ name: 's', path: 'data.parquet', timestampField: 'ts' });
export const repo = defineRepo({
  project: 'named',
  entities: [driver],
  sources: [s],
  featureViews: [defineFeatureView({ name: 'v', entities: ['driver'], source: 's', ttlSeconds: 0, features: [{ name: 'n', dtype }] })],
});
`);
    const { repo } = await loadRepo(dir);
    expect(repo.project).toBe('named');
    expect(repo.featureViews[0]!.features).toEqual([{ name: 'n', dtype: 'int64' }]);
  });

  it('loads .mjs (importing larder-features/core) and CommonJS .js', async () => {
    const mjs = await tempDir();
    await writeFile(join(mjs, 'larder.config.mjs'), `import { defineRepo } from 'larder-features/core';\nexport default defineRepo(${JSON.stringify(REPO)});\n`);
    expect((await loadRepo(mjs)).repo.project).toBe('cfg');
    const cjs = await tempDir();
    await writeFile(join(cjs, 'larder.config.js'), `module.exports = ${JSON.stringify({ ...REPO, project: 'commonjs' })};\n`);
    expect((await loadRepo(cjs)).repo.project).toBe('commonjs');
  });

  it('loads .json, and prefers .ts when both exist', async () => {
    const dir = await tempDir();
    await writeConfig(dir, { ...REPO, project: 'from_json' }, 'json');
    expect((await loadRepo(dir)).repo.project).toBe('from_json');
    await writeConfig(dir, { ...REPO, project: 'from_ts' }, 'ts');
    expect((await loadRepo(dir)).repo.project).toBe('from_ts');
  });

  it('sees a config edited since the last load in the same process', async () => {
    const dir = await tempDir();
    await writeConfig(dir, { ...REPO, project: 'first' }, 'ts');
    expect((await loadRepo(dir)).repo.project).toBe('first');
    await writeConfig(dir, { ...REPO, project: 'second' }, 'ts');
    expect((await loadRepo(dir)).repo.project).toBe('second');
  });

  it('no config: names the folder and every name tried', async () => {
    const dir = await tempDir();
    const e = await loadError(dir);
    expect(e.code).toBe('LARDER_ERR_CONFIG_NOT_FOUND');
    expect(e.message).toContain(dir);
    for (const name of CONFIG_NAMES) expect(e.message).toContain(name);
  });

  it('a missing repo folder', async () => {
    const e = await loadError(join(await tempDir(), 'nope'));
    expect(e.code).toBe('LARDER_ERR_CONFIG_NOT_FOUND');
    expect(e.message).toMatch(/feature repo folder not found: .*nope/);
  });

  it('a syntax error in TypeScript names the file', async () => {
    const dir = await tempDir();
    const file = join(dir, 'larder.config.ts');
    await writeFile(file, `import { defineRepo } from 'larder-features';\nexport default defineRepo({ project: 'x', \n`);
    const e = await loadError(dir);
    expect(e.code).toBe('LARDER_ERR_CONFIG');
    expect(e.message).toContain(`${file}: failed to load:`);
  });

  it('a config that throws names the file and the error', async () => {
    const dir = await tempDir();
    const file = join(dir, 'larder.config.mjs');
    await writeFile(file, `throw new Error('no such secret: FEATURE_BUCKET');\n`);
    const e = await loadError(dir);
    expect(e.code).toBe('LARDER_ERR_CONFIG');
    expect(e.message).toContain(file);
    expect(e.message).toContain('no such secret: FEATURE_BUCKET');
  });

  it('a config importing something missing names the file', async () => {
    const dir = await tempDir();
    const file = join(dir, 'larder.config.ts');
    await writeFile(file, `import { defineRepo } from './not-there.js';\nexport default defineRepo({});\n`);
    const e = await loadError(dir);
    expect(e.code).toBe('LARDER_ERR_CONFIG');
    expect(e.message).toContain(file);
  });

  it('a module without a repo export', async () => {
    const dir = await tempDir();
    const file = join(dir, 'larder.config.ts');
    await writeFile(file, `export const somethingElse = 1;\n`);
    const e = await loadError(dir);
    expect(e.message).toContain(`${file}: exports no repo`);
  });

  it('invalid JSON names the file', async () => {
    const dir = await tempDir();
    const file = join(dir, 'larder.config.json');
    await writeFile(file, '{ "project": "x", }');
    const e = await loadError(dir);
    expect(e.code).toBe('LARDER_ERR_CONFIG');
    expect(e.message).toContain(`${file}: invalid JSON`);
  });

  it('a config exporting a non-object', async () => {
    const dir = await tempDir();
    const file = join(dir, 'larder.config.json');
    await writeFile(file, '[1, 2]');
    const e = await loadError(dir);
    expect(e.message).toContain(file);
    expect(e.message).toMatch(/must export a repo object/);
  });
});
