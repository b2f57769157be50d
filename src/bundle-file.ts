/** Bundle files on disk (Node): open, read the manifest, list versions. */
import { createHash } from 'node:crypto';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Bundle } from './core/local-store.js';
import { type BundleManifest, parseBundleFileName } from './core/bundle/format.js';
import { LarderError } from './core/errors.js';

/**
 * SHA-256 with node:crypto, which hashes the bytes where they are:
 * WebCrypto's digest copies its input first, which doubled the memory a
 * bundle takes while it opens.
 */
async function nodeSha256(bytes: Uint8Array): Promise<string> {
  return createHash('sha256').update(bytes).digest('hex');
}

async function readBytes(path: string): Promise<Uint8Array> {
  try {
    const buf = await readFile(path);
    return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new LarderError('LARDER_ERR_BUNDLE_NOT_FOUND', `bundle file not found: ${path}`);
    throw new LarderError('LARDER_ERR_BUNDLE_NOT_FOUND', `cannot read bundle ${path}: ${(e as Error).message}`);
  }
}

/** Opens a bundle from a file path or from bytes, verifying it fully. */
export async function openBundle(source: string | Uint8Array): Promise<Bundle> {
  const bytes = typeof source === 'string' ? await readBytes(source) : source;
  try {
    return await Bundle.decode(bytes, nodeSha256);
  } catch (e) {
    if (e instanceof LarderError && typeof source === 'string') {
      throw new LarderError(e.code, `${source}: ${e.message}`, { cause: e });
    }
    throw e;
  }
}

/** Reads the `<bundle>.manifest.json` written beside a bundle. */
export async function readManifestFile(bundlePath: string): Promise<BundleManifest> {
  const text = await readFile(`${bundlePath}.manifest.json`, 'utf8');
  return JSON.parse(text) as BundleManifest;
}

/** Bundle files in `dir` for `project` (any project when omitted), newest first. */
export async function listBundles(dir: string, project?: string): Promise<{ path: string; project: string; version: number }[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  return names
    .map((name) => ({ name, parsed: parseBundleFileName(name) }))
    .filter((x): x is { name: string; parsed: { project: string; version: number } } =>
      x.parsed !== undefined && (project === undefined || x.parsed.project === project))
    .map((x) => ({ path: join(dir, x.name), ...x.parsed }))
    .sort((a, b) => b.version - a.version);
}
