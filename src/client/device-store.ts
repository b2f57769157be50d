/**
 * The device client: a bundle kept on the device and read locally, with the
 * sidecar's exact semantics (the same Bundle, resolver and value rule from
 * src/core). Only fetch and WebCrypto: it runs in browsers, Node, Deno and
 * edge workers.
 *
 * - Start: the stored bundle (a storage adapter), else the bootstrap bundle
 *   given, so a device starts offline; each is verified as a download is.
 * - sync(): GET <origin>/bundles/latest with If-None-Match; on a newer
 *   version, its signature and a delta from the bundle held (else the
 *   whole file); verified (with publicKeys: signature,
 *   expiry, key id, file hash, before decoding), held to the high-water
 *   mark, decoded, then swapped in and stored. A bad one is refused
 *   (`lastError`, and sync() rejects) and the current bundle keeps answering.
 */
import type { BundleManifest } from '../core/bundle/format.js';
import { applyDelta } from '../core/bundle/delta.js';
import { LarderError } from '../core/errors.js';
import type { OnlineFeaturesRequest, OnlineFeaturesResponse } from '../core/feast/request.js';
import { Bundle, type EntityKeyInput, type LocalReadOptions } from '../core/local-store.js';
import { type PublicKey, checkStatementMatches, importPublicKey, verifyBundleSignature } from '../core/sign/signature.js';
import { type StorageAdapter, type StoredState, memoryStorage } from './storage.js';

export interface DeviceStoreOptions {
  /** Base URL of a larder origin; none = local only (bootstrap or storage). */
  origin?: string;
  /** Public key files' text (larder keygen's *.public.jwk): bundles must be signed by one. None = unsigned accepted. */
  publicKeys?: readonly string[];
  storage?: StorageAdapter;
  /** A bundle to start from when storage holds none, and its signature. */
  bootstrap?: { bundle: Uint8Array; signature?: string };
  /** Clock for expiry, epoch ms (default Date.now). */
  now?: () => number;
  /** Default fetch; tests and runtimes may pass their own. */
  fetch?: typeof fetch;
}

export type SyncResult = 'updated' | 'unchanged';

export interface DeviceStore {
  /** The version answering now; undefined before any bundle. */
  readonly version: number | undefined;
  readonly manifest: BundleManifest | undefined;
  /** The last refusal or sync failure, for display; cleared by a good sync. */
  readonly lastError: Error | undefined;
  /** How the last update arrived: a delta from the bundle held, or the whole file, and its bytes. */
  readonly lastTransfer: { via: 'delta' | 'full'; bytes: number } | undefined;
  sync(): Promise<SyncResult>;
  get(view: string, key: EntityKeyInput): Record<string, unknown> | undefined;
  getOnlineFeatures(request: OnlineFeaturesRequest, opts?: LocalReadOptions): OnlineFeaturesResponse;
}

class Store implements DeviceStore {
  private bundle: Bundle | undefined;
  private state: StoredState = {};
  lastError: Error | undefined;
  lastTransfer: { via: 'delta' | 'full'; bytes: number } | undefined;
  private syncing: Promise<SyncResult> | undefined;

  constructor(
    private readonly opts: DeviceStoreOptions,
    private readonly keys: readonly PublicKey[],
    private readonly storage: StorageAdapter,
  ) {}

  get version(): number | undefined {
    return this.bundle?.version;
  }

  get manifest(): BundleManifest | undefined {
    return this.bundle?.manifest;
  }

  private now(): number {
    return (this.opts.now ?? Date.now)();
  }

  /** Verifies and decodes; the signature check comes before any decoding. */
  private async open(bytes: Uint8Array, signature: string | undefined): Promise<Bundle> {
    if (this.keys.length === 0) return Bundle.decode(bytes);
    const statement = await verifyBundleSignature(bytes, signature, this.keys, { nowMs: this.now() });
    const bundle = await Bundle.decode(bytes);
    checkStatementMatches(statement, bundle.manifest);
    return bundle;
  }

  async start(): Promise<void> {
    const stored = await this.storage.read();
    if (stored) this.state = { ...stored };
    if (stored?.bundle) {
      try {
        this.bundle = await this.open(stored.bundle, stored.signature);
        return;
      } catch (e) {
        this.lastError = e as Error; // a stored bundle that no longer passes (expired, damaged): fall back
      }
    }
    if (this.opts.bootstrap) {
      const { bundle: bytes, signature } = this.opts.bootstrap;
      const bundle = await this.open(bytes, signature);
      if (bundle.version < (this.state.highWater ?? -Infinity)) {
        throw new LarderError('LARDER_ERR_BUNDLE_ROLLBACK', `the bootstrap bundle is v${bundle.version}, lower than v${this.state.highWater} accepted before`);
      }
      this.bundle = bundle;
      this.state = { bundle: bytes, signature, highWater: bundle.version };
      await this.storage.write(this.state);
    }
  }

  sync(): Promise<SyncResult> {
    this.syncing ??= this.pass().finally(() => (this.syncing = undefined));
    return this.syncing;
  }

  private async pass(): Promise<SyncResult> {
    const base = this.opts.origin;
    if (base === undefined) throw new LarderError('LARDER_ERR_ARGUMENT', 'this device store has no origin to sync from');
    const get = this.opts.fetch ?? fetch;
    try {
      const res = await get(new URL('/bundles/latest', base), { headers: this.state.etag && this.bundle ? { 'if-none-match': this.state.etag } : {} });
      if (res.status === 304) return this.ok('unchanged');
      if (!res.ok) throw new LarderError('LARDER_ERR_BUNDLE_NOT_FOUND', `the origin answered ${res.status} to GET /bundles/latest`);
      const latest = (await res.json()) as { version: number; url: string; signatureUrl: string | null };
      const etag = res.headers.get('etag') ?? undefined;
      if (this.bundle && latest.version === this.bundle.version) {
        this.state = { ...this.state, etag };
        await this.storage.write(this.state);
        return this.ok('unchanged');
      }
      this.checkVersion(latest.version);
      const signature = latest.signatureUrl ? await (await get(new URL(latest.signatureUrl, base))).text() : undefined;
      const bytes = (await this.viaDelta(latest.version)) ?? (await this.full(latest.url));
      const bundle = await this.open(bytes, signature);
      this.checkVersion(bundle.version);
      this.bundle = bundle;
      this.state = { bundle: bytes, signature, etag, highWater: Math.max(this.state.highWater ?? 0, bundle.version) };
      await this.storage.write(this.state);
      return this.ok('updated');
    } catch (e) {
      this.lastError = e as Error;
      throw e;
    }
  }

  /**
   * The new bundle rebuilt from a delta against the one held, or undefined
   * (no bundle held, no delta offered, or one that does not apply: then the
   * whole file is fetched). The result is verified like a download.
   */
  private async viaDelta(version: number): Promise<Uint8Array | undefined> {
    const held = this.state.bundle;
    if (!held || !this.bundle) return undefined;
    try {
      const res = await (this.opts.fetch ?? fetch)(new URL(`/bundles/${version}/delta?from=${this.bundle.version}`, this.opts.origin));
      if (!res.ok) return undefined;
      const delta = new Uint8Array(await res.arrayBuffer());
      const bytes = await applyDelta(held, delta);
      this.lastTransfer = { via: 'delta', bytes: delta.length };
      return bytes;
    } catch {
      return undefined;
    }
  }

  private async full(url: string): Promise<Uint8Array> {
    const download = await (this.opts.fetch ?? fetch)(new URL(url, this.opts.origin));
    if (!download.ok) throw new LarderError('LARDER_ERR_BUNDLE_NOT_FOUND', `the origin answered ${download.status} to GET ${url}`);
    // A fresh buffer is 8-aligned, as the decoder's typed-array views need.
    const bytes = new Uint8Array(await download.arrayBuffer());
    this.lastTransfer = { via: 'full', bytes: bytes.length };
    return bytes;
  }

  private ok(result: SyncResult): SyncResult {
    this.lastError = undefined;
    return result;
  }

  private checkVersion(version: number): void {
    const mark = Math.max(this.state.highWater ?? -Infinity, this.bundle?.version ?? -Infinity);
    if (version < mark) throw new LarderError('LARDER_ERR_BUNDLE_ROLLBACK', `the origin offers v${version}, lower than v${mark} accepted before`);
  }

  private current(): Bundle {
    if (!this.bundle) throw new LarderError('LARDER_ERR_NOT_READY', `no bundle yet: sync from the origin or give a bootstrap bundle${this.lastError ? ` (last error: ${this.lastError.message})` : ''}`);
    return this.bundle;
  }

  get(view: string, key: EntityKeyInput): Record<string, unknown> | undefined {
    return this.current().get(view, key);
  }

  getOnlineFeatures(request: OnlineFeaturesRequest, opts?: LocalReadOptions): OnlineFeaturesResponse {
    return this.current().getOnlineFeatures(request, opts);
  }
}

/** Opens a device store: keys imported, the stored or bootstrap bundle loaded (no network). */
export async function createDeviceStore(opts: DeviceStoreOptions = {}): Promise<DeviceStore> {
  const keys = await Promise.all((opts.publicKeys ?? []).map((text, i) => importPublicKey(text, `publicKeys[${i}]`)));
  const store = new Store(opts, keys, opts.storage ?? memoryStorage());
  await store.start();
  return store;
}
