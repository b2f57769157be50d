/**
 * The gate every bundle passes before the sidecar serves it: with trusted
 * public keys (--public-key), the detached signature is verified before
 * any byte is decoded; and versions are held to a mark kept on disk
 * (--state-file), so that neither a restart nor a file dropped into the
 * folder serves an older bundle than one already accepted.
 *
 * The state, per project: `floor`, the version last accepted (or rolled
 * back to), and `skipThrough`, the highest version ever accepted. A
 * version is allowed when it is the floor, or above skipThrough; versions
 * between them are the ones an operator rolled back from, skipped until a
 * newer build appears. Without a rollback floor = skipThrough, so that is
 * "nothing older than the newest accepted". Below the floor only a rollback
 * (an operator, with the admin token) goes.
 */
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { replaceFile, tempPathFor } from '../../atomic-file.js';
import { openBundle } from '../../bundle-file.js';
import { LarderError } from '../../core/errors.js';
import { Bundle } from '../../core/local-store.js';
import { type PublicKey, checkStatementMatches, importPublicKey, signaturePathFor, verifyBundleSignature } from '../../core/sign/signature.js';

export interface VersionMark {
  floor: number;
  skipThrough: number;
}

interface StateFile {
  format: 'larder-version-state';
  projects: Record<string, VersionMark>;
}

export interface GateOptions {
  keys: readonly PublicKey[];
  /** Where the version marks are kept; none = in memory only. */
  stateFile?: string;
  marks?: Record<string, VersionMark>;
  now: () => number;
  maxBundleBytes?: number;
}

const nodeSha256 = async (bytes: Uint8Array): Promise<string> => createHash('sha256').update(bytes).digest('hex');

export class BundleGate {
  readonly keys: readonly PublicKey[];
  readonly stateFile: string | undefined;
  private readonly marks: Record<string, VersionMark>;
  private readonly now: () => number;
  private readonly maxBundleBytes: number | undefined;
  /** Writes of the state file, one after another. */
  private writing: Promise<void> = Promise.resolve();

  constructor(opts: GateOptions) {
    this.keys = opts.keys;
    this.stateFile = opts.stateFile;
    this.marks = opts.marks ?? {};
    this.now = opts.now;
    this.maxBundleBytes = opts.maxBundleBytes;
  }

  /** Reads the key files and the state file; a bad one fails the start (LARDER_ERR_KEY, LARDER_ERR_OPTION). */
  static async create(opts: { publicKeyFiles: readonly string[]; stateFile?: string; now: () => number; maxBundleBytes?: number }): Promise<BundleGate> {
    const keys: PublicKey[] = [];
    for (const file of opts.publicKeyFiles) {
      let text: string;
      try {
        text = await readFile(file, 'utf8');
      } catch (e) {
        throw new LarderError('LARDER_ERR_KEY', `--public-key (LARDER_PUBLIC_KEY): cannot read ${file}: ${(e as Error).message}`, { cause: e });
      }
      keys.push(await importPublicKey(text, `--public-key (LARDER_PUBLIC_KEY) ${file}`));
    }
    const marks = opts.stateFile === undefined ? {} : await readState(opts.stateFile);
    return new BundleGate({ keys, stateFile: opts.stateFile, marks, now: opts.now, maxBundleBytes: opts.maxBundleBytes });
  }

  get signed(): boolean {
    return this.keys.length > 0;
  }

  mark(project: string): VersionMark | undefined {
    return this.marks[project];
  }

  /** Why `version` of `project` may not be served now (not counting an operator's rollback), or undefined. */
  refuses(project: string, version: number): string | undefined {
    const m = this.marks[project];
    if (!m || version === m.floor || version > m.skipThrough) return undefined;
    if (version < m.floor) return `LARDER_ERR_BUNDLE_ROLLBACK: version ${version} is lower than v${m.floor}, the version this sidecar accepted last (kept in ${this.stateFile ?? 'memory'}); only POST /admin/rollback goes back`;
    return `version ${version} was rolled back from (serving v${m.floor} until a version above v${m.skipThrough} appears)`;
  }

  /**
   * Opens a bundle file: with keys, reads it whole, verifies its signature
   * and hash, and only then decodes it; without, the plain checked open.
   * Errors start with the path, as openBundle's do.
   */
  async open(path: string): Promise<Bundle> {
    if (!this.signed) return openBundle(path, { maxBytes: this.maxBundleBytes });
    try {
      const bytes = await this.readWhole(path);
      const statement = await verifyBundleSignature(bytes, await readSignature(path), this.keys, { nowMs: this.now(), sha256: nodeSha256 });
      const bundle = await Bundle.decode(bytes, nodeSha256);
      checkStatementMatches(statement, bundle.manifest);
      return bundle;
    } catch (e) {
      if (e instanceof LarderError) throw new LarderError(e.code, `${path}: ${e.message}`, { cause: e });
      throw e;
    }
  }

  /** Records `version` as served in the normal course; persisted before it returns. */
  accepted(project: string, version: number): Promise<void> {
    const m = this.marks[project];
    const skipThrough = Math.max(m?.skipThrough ?? version, version);
    return this.save(project, { floor: version, skipThrough });
  }

  /** Records an operator's rollback to `version`. */
  rolledBack(project: string, version: number): Promise<void> {
    const m = this.marks[project];
    return this.save(project, { floor: version, skipThrough: Math.max(m?.skipThrough ?? version, version) });
  }

  private save(project: string, mark: VersionMark): Promise<void> {
    this.marks[project] = mark;
    const file = this.stateFile;
    if (file === undefined) return Promise.resolve();
    const text = JSON.stringify({ format: 'larder-version-state', projects: this.marks } satisfies StateFile, null, 2) + '\n';
    this.writing = this.writing.catch(() => undefined).then(() => writeAtomic(file, text));
    return this.writing;
  }

  private async readWhole(path: string): Promise<Uint8Array> {
    let size: number;
    try {
      size = (await stat(path)).size;
    } catch (e) {
      throw new LarderError('LARDER_ERR_BUNDLE_NOT_FOUND', `cannot read bundle: ${(e as Error).message}`, { cause: e });
    }
    if (this.maxBundleBytes !== undefined && size > this.maxBundleBytes) {
      throw new LarderError('LARDER_ERR_BUNDLE_TOO_LARGE', `the bundle has ${size} bytes, more than the ${this.maxBundleBytes} allowed (--max-bundle-bytes)`);
    }
    // A fresh buffer is 8-aligned, as the decoder's typed-array views need.
    return new Uint8Array(await readFile(path));
  }
}

async function readSignature(bundlePath: string): Promise<string | undefined> {
  try {
    return await readFile(signaturePathFor(bundlePath), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new LarderError('LARDER_ERR_BUNDLE_SIGNATURE', `cannot read its signature file: ${(e as Error).message}`, { cause: e });
  }
}

async function readState(file: string): Promise<Record<string, VersionMark>> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new LarderError('LARDER_ERR_OPTION', `--state-file (LARDER_STATE_FILE): cannot read ${file}: ${(e as Error).message}`, { cause: e });
  }
  const bad = () => new LarderError('LARDER_ERR_OPTION', `--state-file (LARDER_STATE_FILE): ${file} is not a larder version state file; refusing to start rather than forget which versions were accepted (move it away to start afresh)`);
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw bad();
  }
  const s = v as Partial<StateFile> | null;
  if (typeof s !== 'object' || s === null || s.format !== 'larder-version-state' || typeof s.projects !== 'object' || s.projects === null) throw bad();
  const marks: Record<string, VersionMark> = {};
  for (const [project, m] of Object.entries(s.projects)) {
    if (typeof m !== 'object' || m === null || !Number.isSafeInteger(m.floor) || !Number.isSafeInteger(m.skipThrough) || m.floor > m.skipThrough) throw bad();
    marks[project] = { floor: m.floor, skipThrough: m.skipThrough };
  }
  return marks;
}

/** Temp file in the same folder, fsync, rename: the state file is whole or the old one. */
async function writeAtomic(path: string, text: string): Promise<void> {
  try {
    await replaceFile(path, tempPathFor(path), (file) => file.writeFile(text));
  } catch (e) {
    throw new LarderError('LARDER_ERR_BUNDLE_DIR', `cannot write the version state file ${path}: ${(e as Error).message}`, { cause: e });
  }
}
