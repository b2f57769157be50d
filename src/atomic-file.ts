/**
 * Atomic file replacement, once for every writer (bundles, signatures,
 * downloads, the version state file): a file appears under its final name
 * only complete. Bytes go to a temp file in the same folder, are fsynced,
 * and the temp file is renamed over the final name (atomic within one file
 * system); the folder is then fsynced so the rename itself survives a
 * crash. On failure the temp file is removed and the old file stays.
 */
import { randomBytes } from 'node:crypto';
import { type FileHandle, open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** Temp names match the repo's `*.tmp-*` ignore rule and never parse as a bundle name. */
export function tempPathFor(path: string, mark = '.tmp-'): string {
  return join(dirname(path), `.${basename(path)}${mark}${process.pid}-${randomBytes(4).toString('hex')}`);
}

/** Fsyncs a folder, so that a rename in it survives a crash. */
export async function fsyncDir(dir: string): Promise<void> {
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

/** Replaces `path` by what `fill` writes into `temp` (a path in the same folder; see tempPathFor). */
export async function replaceFile(path: string, temp: string, fill: (file: FileHandle) => Promise<void>): Promise<void> {
  try {
    const file = await open(temp, 'wx', 0o644);
    try {
      await fill(file);
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(temp, path);
  } catch (e) {
    await unlink(temp).catch(() => undefined);
    throw e;
  }
  await fsyncDir(dirname(path));
}
