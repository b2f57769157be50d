/**
 * Follows an origin (`larder origin`, --bundle-url) into the bundle folder:
 * polls GET /bundles/latest with If-None-Match at a jittered interval (so
 * a fleet does not poll in step), and when a newer version appears
 * downloads its signature and then the bundle, each to a temp file in the
 * folder, fsynced and renamed: a file appears under a bundle's name only
 * whole. The bundle folder's source then verifies and swaps it in as it
 * does any file (signature, checksums, version mark), so a bad download is
 * refused there and the current bundle keeps serving. A restart without
 * network serves the last good bundle of the folder at once.
 *
 * Limits: the announced size and the bytes actually received are held to
 * --max-bundle-bytes; the received bytes must hash to the announced
 * SHA-256 (a cut or garbled transfer never gets a bundle's name).
 */
import { createHash, randomBytes } from 'node:crypto';
import { type FileHandle, mkdir, open, readFile, readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { replaceFile } from '../../atomic-file.js';
import { applyDelta } from '../../core/bundle/delta.js';
import { bundleFileName } from '../../core/bundle/format.js';
import { signaturePathFor } from '../../core/sign/signature.js';
import type { Logger } from '../log.js';
import type { BundleGate } from './gate.js';

export interface OriginSyncOptions {
  url: string;
  dir: string;
  pollMs: number;
  maxBytes: number;
  gate: BundleGate;
  log: Logger;
  /** The bundle served now and its file, for deltas; none = whole files only. */
  current?: () => { version: number; path: string } | undefined;
  /** Called after a bundle landed in the folder (the folder source's check). */
  landed: () => Promise<void>;
  /** How long one request may take, ms. */
  timeoutMs?: number;
}

interface Latest {
  project: string;
  version: number;
  sha256: string;
  bytes: number;
  url: string;
  signatureUrl: string | null;
}

const TEMP_MARK = '.tmp-sync-';
const nodeSha256 = async (bytes: Uint8Array): Promise<string> => createHash('sha256').update(bytes).digest('hex');

export class OriginSync {
  private etag: string | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private stopped = false;
  private running: Promise<void> | undefined;
  private lastProblem = '';

  constructor(private readonly opts: OriginSyncOptions) {}

  /** Clears temp files a killed process left behind, then polls in the background. */
  async start(): Promise<void> {
    await mkdir(this.opts.dir, { recursive: true });
    for (const name of await readdir(this.opts.dir)) {
      if (name.startsWith('.') && name.includes(TEMP_MARK)) await unlink(join(this.opts.dir, name)).catch(() => undefined);
    }
    this.schedule(0);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      void this.poll().finally(() => this.schedule(this.opts.pollMs * (0.5 + Math.random())));
    }, ms);
    this.timer.unref();
  }

  /** One poll; concurrent calls share it. Never throws: problems are logged once each. */
  poll(): Promise<void> {
    this.running ??= this.pass()
      .then(() => void (this.lastProblem = ''))
      .catch((e: unknown) => this.problem((e as Error).message))
      .finally(() => (this.running = undefined));
    return this.running;
  }

  private problem(message: string): void {
    if (message !== this.lastProblem) this.opts.log.warn(`bundle origin ${this.opts.url}: ${message}`);
    this.lastProblem = message;
  }

  private async fetch(path: string, headers: Record<string, string> = {}): Promise<Response> {
    return fetch(new URL(path, this.opts.url), { headers, signal: AbortSignal.timeout(this.opts.timeoutMs ?? 30_000) });
  }

  private async pass(): Promise<void> {
    const res = await this.fetch('/bundles/latest', this.etag ? { 'if-none-match': this.etag } : {});
    if (res.status === 304) return;
    if (!res.ok) throw new Error(`GET /bundles/latest answered ${res.status}: ${(await res.text()).slice(0, 200)}`);
    const latest = (await res.json()) as Latest;
    const etag = res.headers.get('etag') ?? undefined;
    if (typeof latest.version !== 'number' || typeof latest.project !== 'string' || !/^[0-9a-f]{64}$/.test(String(latest.sha256)) || !/^[\w.-]+$/.test(latest.project)) {
      throw new Error('GET /bundles/latest did not answer a bundle announcement');
    }
    const name = bundleFileName(latest.project, latest.version);
    const path = join(this.opts.dir, name);
    const refused = this.opts.gate.refuses(latest.project, latest.version);
    if (refused !== undefined) {
      this.problem(`not downloading ${name}: ${refused}`);
      this.etag = etag;
      return;
    }
    if (await exists(path)) {
      this.etag = etag;
      return;
    }
    if (latest.bytes > this.opts.maxBytes) {
      this.problem(`not downloading ${name}: it has ${latest.bytes} bytes, more than the ${this.opts.maxBytes} allowed (--max-bundle-bytes)`);
      this.etag = etag;
      return;
    }
    // The signature first, as the builder writes them: a reader never sees the bundle without it.
    if (latest.signatureUrl) await this.download(latest.signatureUrl, signaturePathFor(path), 64 * 1024);
    const viaDelta = await this.fromDelta(latest, path);
    if (viaDelta === undefined) await this.download(latest.url, path, this.opts.maxBytes, latest.sha256);
    this.opts.log.info(`downloaded ${name} (${latest.bytes} bytes) from ${this.opts.url}${viaDelta === undefined ? '' : ` as a delta of ${viaDelta.bytes} bytes from v${viaDelta.from}`}`);
    this.etag = etag;
    await this.opts.landed();
  }

  /**
   * Rebuilds the announced bundle from a delta against the bundle served
   * now, and writes it to `to` as a download is written. Returns the
   * delta's size and base version, or undefined (nothing served, no delta, or one that does
   * not rebuild the announced SHA-256: then the whole file is fetched).
   */
  private async fromDelta(latest: Latest, to: string): Promise<{ bytes: number; from: number } | undefined> {
    const current = this.opts.current?.();
    if (!current || current.version >= latest.version) return undefined;
    try {
      const res = await this.fetch(`/bundles/${latest.version}/delta?from=${current.version}`);
      if (!res.ok) return undefined;
      const delta = new Uint8Array(await res.arrayBuffer());
      if (delta.length > this.opts.maxBytes) return undefined;
      const bytes = await applyDelta(new Uint8Array(await readFile(current.path)), delta, { sha256: nodeSha256 });
      if (bytes.length > this.opts.maxBytes || (await nodeSha256(bytes)) !== latest.sha256) return undefined;
      await this.writeVia(to, async (file) => void (await file.write(bytes)));
      return { bytes: delta.length, from: current.version };
    } catch {
      return undefined;
    }
  }

  /** Writes `to` through a temp file in the folder: filled by `fill`, fsynced, renamed; removed on failure. */
  private async writeVia(to: string, fill: (file: FileHandle) => Promise<void>): Promise<void> {
    await replaceFile(to, join(this.opts.dir, `.${to.split('/').pop()}${TEMP_MARK}${process.pid}-${randomBytes(4).toString('hex')}`), fill);
  }


  /** GET `from` into `to` through a temp file: size-limited, hash-checked, fsynced, renamed. */
  private async download(from: string, to: string, maxBytes: number, sha256?: string): Promise<void> {
    const res = await this.fetch(from);
    if (!res.ok || !res.body) throw new Error(`GET ${from} answered ${res.status}`);
    const declared = Number(res.headers.get('content-length') ?? NaN);
    if (declared > maxBytes) throw new Error(`GET ${from}: ${declared} bytes, more than the ${maxBytes} allowed`);
    const hash = createHash('sha256');
    let received = 0;
    await this.writeVia(to, async (file) => {
      for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
        received += chunk.length;
        if (received > maxBytes) throw new Error(`GET ${from}: more than the ${maxBytes} bytes allowed`);
        hash.update(chunk);
        await file.write(chunk);
      }
      // Checked before the rename: a cut or garbled transfer never gets the bundle's name.
      if (sha256 !== undefined && hash.digest('hex') !== sha256) throw new Error(`GET ${from}: the ${received} bytes received do not hash to the announced SHA-256 (cut or garbled transfer)`);
    });
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await (await open(path, 'r')).close();
    return true;
  } catch {
    return false;
  }
}

