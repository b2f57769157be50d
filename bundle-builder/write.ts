/**
 * Bundle versions and atomic writes. A file appears under its final name
 * only complete: bytes go to a temp file in the same folder, are fsynced,
 * and the temp file is renamed over the final name (atomic within one file
 * system); the folder is then fsynced so the rename itself survives a crash.
 * One build at a time per output folder: two concurrent builds could pick
 * the same version number.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { listBundles } from '../src/bundle-file.js';

/** The next version for `project` in `outDir` and its parent (the highest present, or null). */
export async function nextVersion(outDir: string, project: string): Promise<{ version: number; parentVersion: number | null }> {
  const existing = await listBundles(outDir, project);
  const highest = existing[0]?.version;
  return highest === undefined ? { version: 1, parentVersion: null } : { version: highest + 1, parentVersion: highest };
}

/** Temp names match the repo's `*.tmp-*` ignore rule and never parse as a bundle name. */
export function tempPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
}

async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } catch (e) {
    // Some file systems refuse fsync on a directory (EINVAL/EISDIR); the
    // rename is still atomic there, only its durability is the FS's call.
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'EINVAL' && code !== 'EISDIR' && code !== 'EPERM') throw e;
  } finally {
    await handle.close();
  }
}

/** Writes `bytes` to `path` atomically (see the module comment). */
export async function writeFileAtomic(path: string, bytes: Uint8Array): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const temp = tempPathFor(path);
  const handle = await open(temp, 'wx', 0o644);
  try {
    try {
      let written = 0;
      while (written < bytes.length) {
        const { bytesWritten } = await handle.write(bytes, written, bytes.length - written);
        written += bytesWritten;
      }
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
  } catch (e) {
    await unlink(temp).catch(() => undefined);
    throw e;
  }
  await fsyncDir(dirname(path));
}
