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
    if (code === 'ENOENT') throw new LarderError('LARDER_ERR_BUNDLE_NOT_FOUND', `bundle file not found: ${path}`, { cause: e });
    throw new LarderError('LARDER_ERR_BUNDLE_NOT_FOUND', `cannot read bundle ${path}: ${(e as Error).message}`, { cause: e });
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

/**
 * Reads the `<bundle>.manifest.json` written beside a bundle. Throws
 * LARDER_ERR_BUNDLE_NOT_FOUND when it cannot be read, LARDER_ERR_BUNDLE_CORRUPT
 * when it is not a JSON object.
 */
export async function readManifestFile(bundlePath: string): Promise<BundleManifest> {
  const path = `${bundlePath}.manifest.json`;
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'not found' : (e as Error).message;
    throw new LarderError('LARDER_ERR_BUNDLE_NOT_FOUND', `manifest file ${path}: ${why}`, { cause: e });
  }
  let manifest: unknown;
  try {
    manifest = JSON.parse(text);
  } catch (e) {
    throw new LarderError('LARDER_ERR_BUNDLE_CORRUPT', `manifest file ${path} is not valid JSON: ${(e as Error).message}`, { cause: e });
  }
  if (typeof manifest !== 'object' || manifest === null || Array.isArray(manifest)) {
    throw new LarderError('LARDER_ERR_BUNDLE_CORRUPT', `manifest file ${path} does not hold a JSON object`);
  }
  return manifest as BundleManifest;
}

/**
 * Bundle files in `dir` for `project` (any project when omitted), newest
 * first; none when `dir` does not exist. Throws LARDER_ERR_BUNDLE_DIR when
 * it cannot be listed (not a folder, no permission).
 */
export async function listBundles(dir: string, project?: string): Promise<{ path: string; project: string; version: number }[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new LarderError('LARDER_ERR_BUNDLE_DIR', `cannot list bundle folder ${dir}: ${(e as Error).message}`, { cause: e });
  }
  return names
    .map((name) => ({ name, parsed: parseBundleFileName(name) }))
    .filter((x): x is { name: string; parsed: { project: string; version: number } } =>
      x.parsed !== undefined && (project === undefined || x.parsed.project === project))
    .map((x) => ({ path: join(dir, x.name), ...x.parsed }))
    .sort((a, b) => b.version - a.version);
}
