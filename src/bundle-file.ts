/** Bundle files on disk (Node): open, read the manifest, list versions. */
import { createHash } from 'node:crypto';
import { type FileHandle, open, readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Bundle } from './core/local-store.js';
import { checkHeader, decodeManifest, layoutEndOf } from './core/bundle/decode.js';
import { type BundleManifest, HEADER_BYTES, parseBundleFileName } from './core/bundle/format.js';
import { LarderError } from './core/errors.js';

/**
 * SHA-256 with node:crypto, which hashes the bytes where they are:
 * WebCrypto's digest copies its input first, which doubled the memory a
 * bundle takes while it opens.
 */
async function nodeSha256(bytes: Uint8Array): Promise<string> {
  return createHash('sha256').update(bytes).digest('hex');
}

export interface OpenBundleOptions {
  /** Files larger than this many bytes are refused before any of them is read; default no limit. */
  maxBytes?: number;
}

/** Chunk size of reads: one fs read call moves at most 2 GiB. */
const READ_CHUNK_BYTES = 64 * 1024 * 1024;

/**
 * Reads a bundle file in steps, checking each before reading on: its size
 * against `maxBytes`; the 48-byte header (magic, version, manifest length)
 * against the size; the manifest (checksum and shape) and the layout
 * length; only then the rest, into one buffer of the file's size. A file
 * of zeros or of a foreign format costs one small read, one over the limit
 * none, and a bundle takes about its own size while it opens.
 */
async function readBundleFile(path: string, opts: OpenBundleOptions): Promise<Uint8Array> {
  let file: FileHandle;
  try {
    file = await open(path, 'r');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new LarderError('LARDER_ERR_BUNDLE_NOT_FOUND', `bundle file not found: ${path}`, { cause: e });
    throw new LarderError('LARDER_ERR_BUNDLE_NOT_FOUND', `cannot read bundle ${path}: ${(e as Error).message}`, { cause: e });
  }
  try {
    const { size } = await file.stat();
    checkSize(size, opts);
    const head = new Uint8Array(Math.min(HEADER_BYTES, size));
    await readFully(file, head, 0, size);
    const manifestEnd = checkHeader(head, size);
    // A fresh ArrayBuffer starts 8-aligned, as the decoder's typed-array
    // views need; its pages take memory only as the reads fill them.
    const bytes = new Uint8Array(size);
    bytes.set(head);
    await readFully(file, bytes.subarray(HEADER_BYTES, manifestEnd + 4), HEADER_BYTES, size);
    layoutEndOf(bytes, manifestEnd, size);
    await decodeManifest(bytes.subarray(0, manifestEnd + 4));
    await readFully(file, bytes.subarray(manifestEnd + 4), manifestEnd + 4, size);
    return bytes;
  } finally {
    await file.close();
  }
}

function checkSize(size: number, opts: OpenBundleOptions): void {
  if (opts.maxBytes !== undefined && size > opts.maxBytes) {
    throw new LarderError('LARDER_ERR_BUNDLE_TOO_LARGE', `the bundle has ${size} bytes, more than the ${opts.maxBytes} allowed (--max-bundle-bytes)`);
  }
}

/** Fills `into` from the file at `position`; a file that ends early (it shrank while read) is truncated. */
async function readFully(file: FileHandle, into: Uint8Array, position: number, size: number): Promise<void> {
  let done = 0;
  while (done < into.length) {
    const want = Math.min(READ_CHUNK_BYTES, into.length - done);
    const { bytesRead } = await file.read(into, done, want, position + done);
    if (bytesRead === 0) {
      throw new LarderError('LARDER_ERR_BUNDLE_CORRUPT', `bundle is corrupt: truncated: the file ended at byte ${position + done}, before the ${size} bytes it had when opened`);
    }
    done += bytesRead;
  }
}

/**
 * Opens a bundle from a file path or from bytes, verifying it fully. Every
 * failure is a LarderError; for a path, its message starts with the path.
 */
export async function openBundle(source: string | Uint8Array, opts: OpenBundleOptions = {}): Promise<Bundle> {
  try {
    let bytes: Uint8Array;
    if (typeof source === 'string') bytes = await readBundleFile(source, opts);
    else {
      checkSize(source.length, opts);
      bytes = source;
    }
    return await Bundle.decode(bytes, nodeSha256);
  } catch (e) {
    if (e instanceof LarderError && typeof source === 'string' && e.code !== 'LARDER_ERR_BUNDLE_NOT_FOUND') {
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
