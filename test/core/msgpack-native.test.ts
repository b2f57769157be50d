/**
 * msgpackr decodes strings with a native addon when it loads, in pure JS
 * otherwise. Both paths must read the same bundle the same way: this decodes
 * one bundle in two child processes, with the addon and without.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { FeatureViewDef } from '../../src/core/repo/types.js';
import { bundleBytes, repoWith } from './helpers.js';

const view: FeatureViewDef = {
  name: 'user_stats', entities: ['user'], source: 'src', ttlSeconds: 0,
  features: [
    { name: 'tags', dtype: 'string[]' },
    { name: 'items', dtype: 'int64[]' },
    { name: 'note', dtype: 'string', description: 'ünïcødé and a long string past the short-string fast path of the decoder' },
  ],
};

const reader = `
  import { readFileSync } from 'node:fs';
  import { isNativeAccelerationEnabled, unpack } from 'msgpackr';
  import { openBundle } from '${join(process.cwd(), 'dist/src/index.js')}';
  unpack(new Uint8Array([0xa1, 0x61])); // loads the addon when allowed
  const b = await openBundle(process.argv[1]);
  const rows = ['1', '2', '3'].map((k) => b.get('user_stats', k));
  console.log(JSON.stringify({ native: isNativeAccelerationEnabled, rows, description: b.manifest.repo.featureViews[0].features[2].description }));
`;

describe('msgpackr with and without its native addon', () => {
  it('reads the same values both ways', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'larder-msgpack-'));
    const file = join(dir, 'shop-v1.larder');
    const long = 'x'.repeat(40) + ' ✓ ' + 'ÿ'.repeat(40);
    writeFileSync(file, await bundleBytes(repoWith([view]), [{
      name: 'user_stats', joinKeys: [{ name: 'user_id', dtype: 'int64' }], keys: ['1', '2', '3'], eventTsMs: [0, 0, 0],
      columns: { tags: [['a', long], [], null], items: [[1, 2 ** 40, -3], [], null], note: [long, 'é', null] },
    }]));
    const run = (disabled: boolean) => JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', reader, file], {
      cwd: process.cwd(),
      env: { ...process.env, MSGPACKR_NATIVE_ACCELERATION_DISABLED: disabled ? 'true' : 'false' },
      encoding: 'utf8',
    }));
    const native = run(false);
    const js = run(true);
    expect(native.native).toBe(true);
    expect(js.native).toBe(false);
    expect(js.rows).toEqual(native.rows);
    expect(native.rows[0]).toEqual({ tags: ['a', long], items: [1, 2 ** 40, -3], note: long });
    expect(native.rows[2]).toEqual({ tags: null, items: null, note: null });
    expect(js.description).toBe(view.features[2]!.description);
  });
});
