/**
 * Bundle versions and atomic writes (src/atomic-file.ts: a file appears
 * under its final name only complete). One build at a time per output folder: two concurrent builds could pick
 * the same version number.
 */
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { replaceFile, tempPathFor } from '../src/atomic-file.js';
import { listBundles } from '../src/bundle-file.js';

export { tempPathFor } from '../src/atomic-file.js';

/** The next version for `project` in `outDir` and its parent (the highest present, or null). */
export async function nextVersion(outDir: string, project: string): Promise<{ version: number; parentVersion: number | null }> {
  const existing = await listBundles(outDir, project);
  const highest = existing[0]?.version;
  return highest === undefined ? { version: 1, parentVersion: null } : { version: highest + 1, parentVersion: highest };
}

/** Writes `bytes` to `path` atomically (see the module comment). */
export async function writeFileAtomic(path: string, bytes: Uint8Array): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await replaceFile(path, tempPathFor(path), async (file) => {
    let written = 0;
    while (written < bytes.length) {
      const { bytesWritten } = await file.write(bytes, written, bytes.length - written);
      written += bytesWritten;
    }
  });
}
