/** src/bundle-file.ts on real files: what it cannot read fails with a catalog code naming the path. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listBundles, openBundle, readManifestFile } from '../src/bundle-file.js';
import { LarderError } from '../src/core/errors.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'larder-bundle-file-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function failure(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  const e = await p.then(() => undefined, (err: unknown) => err);
  expect(e).toBeInstanceOf(LarderError);
  return { code: (e as LarderError).code, message: (e as LarderError).message };
}

describe('bundle files', () => {
  it('readManifestFile: a missing manifest, bad JSON and a non-object', async () => {
    const bundle = join(dir, 'p-v1.larder');
    expect(await failure(readManifestFile(bundle))).toEqual({ code: 'LARDER_ERR_BUNDLE_NOT_FOUND', message: `manifest file ${bundle}.manifest.json: not found` });
    await writeFile(`${bundle}.manifest.json`, '{"project": ');
    expect(await failure(readManifestFile(bundle))).toMatchObject({ code: 'LARDER_ERR_BUNDLE_CORRUPT', message: expect.stringMatching(new RegExp(`^manifest file ${bundle}\\.manifest\\.json is not valid JSON: `)) });
    await writeFile(`${bundle}.manifest.json`, '[1]');
    expect(await failure(readManifestFile(bundle))).toEqual({ code: 'LARDER_ERR_BUNDLE_CORRUPT', message: `manifest file ${bundle}.manifest.json does not hold a JSON object` });
    await writeFile(`${bundle}.manifest.json`, '{"project": "p", "version": 1}');
    expect(await readManifestFile(bundle)).toEqual({ project: 'p', version: 1 });
  });

  it('listBundles: a missing folder holds none; a file is LARDER_ERR_BUNDLE_DIR', async () => {
    expect(await listBundles(join(dir, 'nothing-here'))).toEqual([]);
    const file = join(dir, 'a-file');
    await writeFile(file, 'x');
    expect(await failure(listBundles(file))).toMatchObject({ code: 'LARDER_ERR_BUNDLE_DIR', message: expect.stringMatching(new RegExp(`^cannot list bundle folder ${file}: ENOTDIR`)) });
  });

  it('openBundle: a missing file is LARDER_ERR_BUNDLE_NOT_FOUND, a foreign one LARDER_ERR_BUNDLE_MAGIC', async () => {
    const missing = join(dir, 'missing.larder');
    expect(await failure(openBundle(missing))).toEqual({ code: 'LARDER_ERR_BUNDLE_NOT_FOUND', message: `bundle file not found: ${missing}` });
    const foreign = join(dir, 'foreign.larder');
    await writeFile(foreign, 'x'.repeat(100));
    expect(await failure(openBundle(foreign))).toMatchObject({ code: 'LARDER_ERR_BUNDLE_MAGIC', message: expect.stringContaining(foreign) });
  });
});
