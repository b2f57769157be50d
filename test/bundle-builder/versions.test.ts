/** Version numbering, the manifest sibling, and atomic writes. */
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { listBundles, openBundle, readManifestFile } from '../../src/bundle-file.js';
import { buildBundle } from '../../bundle-builder/build.js';
import { nextVersion, writeFileAtomic } from '../../bundle-builder/write.js';
import { tempDir, writeConfig, useDataFiles } from './helpers.js';

const data = useDataFiles();

async function repo(project = 'ver'): Promise<string> {
  const dir = await tempDir();
  await data.write(join(dir, 'd.parquet'), { id: 'BIGINT', ts: 'TIMESTAMP', x: 'DOUBLE' }, [[1, new Date('2024-01-01T00:00:00Z'), 0.5]]);
  await writeConfig(dir, {
    project,
    entities: [{ name: 'e', joinKeys: ['id'] }],
    sources: [{ name: 's', path: 'd.parquet', timestampField: 'ts' }],
    featureViews: [{ name: 'v', entities: ['e'], source: 's', ttlSeconds: 0, features: [{ name: 'x', dtype: 'float64' }] }],
  });
  return dir;
}

describe('versions', () => {
  it('numbers builds 1, 2, ... with the previous version as parent', async () => {
    const dir = await repo();
    const out = join(dir, 'out');
    const first = await buildBundle({ repoDir: dir, outDir: out });
    const second = await buildBundle({ repoDir: dir, outDir: out });
    expect([first.manifest.version, first.manifest.parentVersion]).toEqual([1, null]);
    expect([second.manifest.version, second.manifest.parentVersion]).toEqual([2, 1]);
    expect(second.path).toBe(join(out, 'ver-v2.larder'));
    expect((await listBundles(out, 'ver')).map((b) => b.version)).toEqual([2, 1]);
    // Only the bundles and their manifests: no temp files left behind.
    expect((await readdir(out)).sort()).toEqual(['ver-v1.larder', 'ver-v1.larder.manifest.json', 'ver-v2.larder', 'ver-v2.larder.manifest.json']);
  });

  it('continues from the highest version present, ignoring other projects and leftover temp files', async () => {
    const dir = await repo();
    const out = join(dir, 'out');
    await mkdir(out);
    await writeFile(join(out, 'ver-v7.larder'), 'an older build');
    await writeFile(join(out, 'other-v40.larder'), 'another project');
    await writeFile(join(out, '.ver-v9.larder.tmp-123-abcdef01'), 'a crashed write');
    expect(await nextVersion(out, 'ver')).toEqual({ version: 8, parentVersion: 7 });
    const r = await buildBundle({ repoDir: dir, outDir: out });
    expect([r.manifest.version, r.manifest.parentVersion]).toEqual([8, 7]);
    expect(await nextVersion(join(dir, 'absent'), 'ver')).toEqual({ version: 1, parentVersion: null });
  });
});

describe('the manifest sibling', () => {
  it('holds exactly the bundle manifest, pretty-printed', async () => {
    const dir = await repo();
    const r = await buildBundle({ repoDir: dir, outDir: join(dir, 'out'), asOf: new Date('2024-03-01T00:00:00Z') });
    const bundle = await openBundle(r.path);
    const sibling = await readManifestFile(r.path);
    expect(sibling).toEqual(JSON.parse(JSON.stringify(bundle.manifest)));
    expect(sibling).toEqual(JSON.parse(JSON.stringify(r.manifest)));
    expect(sibling.asOf).toBe('2024-03-01T00:00:00.000Z');
    expect(await readFile(r.manifestPath, 'utf8')).toMatch(/^\{\n {2}"format": "larder-bundle"/);
    expect((await readFile(r.path)).length).toBe(r.bytes);
  });
});

describe('writeFileAtomic', () => {
  it('replaces the target in one step and leaves no temp file', async () => {
    const dir = await tempDir();
    const target = join(dir, 'f.larder');
    await writeFileAtomic(target, new TextEncoder().encode('one'));
    await writeFileAtomic(target, new TextEncoder().encode('two'));
    expect(await readFile(target, 'utf8')).toBe('two');
    expect(await readdir(dir)).toEqual(['f.larder']);
  });

  it('on failure removes its temp file and leaves nothing under the final name', async () => {
    const dir = await tempDir();
    const target = join(dir, 'taken');
    await mkdir(join(target, 'inside'), { recursive: true }); // rename onto a non-empty folder fails
    await expect(writeFileAtomic(target, new Uint8Array(1024))).rejects.toThrow();
    expect(await readdir(dir)).toEqual(['taken']);
    expect(await readdir(target)).toEqual(['inside']);
  });
});
