/**
 * The Node file adapter of the device store: the state in one folder,
 * `bundle.larder`, `bundle.larder.sig` and `state.json` (ETag, high-water
 * mark), each written to a temp file, fsynced and renamed; state.json last,
 * so it never names a bundle that is not there.
 */
import { mkdir, open, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import type { StorageAdapter, StoredState } from './storage.js';

async function writeAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const temp = `${path}.tmp-${process.pid}`;
  const handle = await open(temp, 'w', 0o644);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temp, path);
}

export function fileStorage(dir: string): StorageAdapter {
  return {
    async read() {
      let meta: { etag?: string; highWater?: number; signed?: boolean; hasBundle?: boolean };
      try {
        meta = JSON.parse(await readFile(join(dir, 'state.json'), 'utf8')) as typeof meta;
      } catch {
        return undefined;
      }
      const state: StoredState = { etag: meta.etag, highWater: meta.highWater };
      if (meta.hasBundle) state.bundle = new Uint8Array(await readFile(join(dir, 'bundle.larder')));
      if (meta.signed) state.signature = await readFile(join(dir, 'bundle.larder.sig'), 'utf8');
      return state;
    },
    async write(state) {
      await mkdir(dir, { recursive: true });
      if (state.signature !== undefined) await writeAtomic(join(dir, 'bundle.larder.sig'), state.signature);
      if (state.bundle) await writeAtomic(join(dir, 'bundle.larder'), state.bundle);
      await writeAtomic(join(dir, 'state.json'), JSON.stringify({ etag: state.etag, highWater: state.highWater, signed: state.signature !== undefined, hasBundle: state.bundle !== undefined }));
    },
  };
}
