/**
 * Bundles from a directory: at start, the newest valid bundle; then a poll
 * every `pollMs` that swaps in a newer valid version when one appears.
 * Invalid files (corrupt, truncated, foreign, misnamed) are skipped with one
 * log line each and the next newest is tried; an unchanged bad file is not
 * re-read on every poll, but a rewritten one (new size or mtime) is.
 */
import { type FSWatcher, watch } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { Bundle } from '../core/local-store.js';
import { listBundles, openBundle } from '../bundle-file.js';
import type { BundleSource } from './bundle-source.js';
import type { Logger } from './log.js';
import type { Metrics } from './metrics.js';
import type { ServingStateHolder } from './serving-state.js';
import type { BundleGate } from './lifecycle/gate.js';

export interface BundleDirSourceOptions {
  dir: string;
  /** Poll interval, ms. */
  pollMs: number;
  holder: ServingStateHolder;
  log: Logger;
  metrics?: Metrics;
  /** Larger bundle files are refused before they are read (--max-bundle-bytes); default no limit. */
  maxBundleBytes?: number;
  /** Signature checks and the version mark (lifecycle/gate.ts); without one, any valid bundle newer than the served one. */
  gate?: BundleGate;
}

export class BundleDirSource implements BundleSource {
  private readonly dir: string;
  private readonly pollMs: number;
  private readonly holder: ServingStateHolder;
  private readonly log: Logger;
  private readonly metrics: Metrics | undefined;
  private readonly maxBundleBytes: number | undefined;
  private readonly gate: BundleGate | undefined;
  private timer: ReturnType<typeof setInterval> | undefined;
  private watcher: FSWatcher | undefined;
  private running: Promise<void> | undefined;
  /** Project of the first bundle served; later bundles must be of the same project. */
  private project: string | undefined;
  /** Rejected files: path -> "size:mtimeMs" when rejected. */
  private readonly rejected = new Map<string, string>();
  /** The last directory error logged, so a missing dir is reported once, not every poll. */
  private lastDirError = '';

  constructor(opts: BundleDirSourceOptions) {
    this.dir = opts.dir;
    this.pollMs = opts.pollMs;
    this.holder = opts.holder;
    this.log = opts.log;
    this.metrics = opts.metrics;
    this.maxBundleBytes = opts.maxBundleBytes;
    this.gate = opts.gate;
  }

  async start(): Promise<void> {
    await this.check();
    this.timer = setInterval(() => void this.check(), this.pollMs);
    // Polling alone must not keep the process alive once the server closes.
    this.timer.unref();
    // File events bring a new bundle in at once; the poll stays as the
    // fallback where events are missed or unsupported (network file systems).
    try {
      this.watcher = watch(this.dir, { persistent: false }, (_event, name) => {
        if (typeof name === 'string' && name.endsWith('.larder')) void this.check();
      });
      this.watcher.on('error', () => this.watcher?.close());
    } catch {
      this.watcher = undefined; // no folder yet, or no file events here: polling only
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.watcher?.close();
    this.watcher = undefined;
  }

  /** One pass over the directory; concurrent calls share the pass in progress. Never throws. */
  check(): Promise<void> {
    this.running ??= this.pass()
      .catch((e: unknown) => {
        // Not expected (every step handles its own errors), but a poll must never take the process down.
        this.log.error(`bundle directory check failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
      })
      .finally(() => {
        this.running = undefined;
      });
    return this.running;
  }

  private async pass(): Promise<void> {
    let candidates: Awaited<ReturnType<typeof listBundles>>;
    try {
      candidates = await listBundles(this.dir, this.project);
      this.lastDirError = '';
    } catch (e) {
      const message = (e as Error).message; // LARDER_ERR_BUNDLE_DIR, naming the folder
      if (message !== this.lastDirError) this.log.warn(message);
      this.lastDirError = message;
      this.setNotReady(message);
      return;
    }
    if (this.project === undefined) {
      const projects = [...new Set(candidates.map((c) => c.project))];
      if (projects.length > 1 && this.holder.current === undefined) {
        this.log.warn(`bundle directory ${this.dir} holds bundles of several projects (${projects.join(', ')}); serving the highest version — keep one project per directory`);
      }
    }
    const servedVersion = this.holder.current?.version ?? -Infinity;
    for (const candidate of candidates) {
      if (candidate.version <= servedVersion) break;
      const signature = await fileSignature(candidate.path);
      if (signature === undefined || this.rejected.get(candidate.path) === signature) continue;
      const refused = this.gate?.refuses(candidate.project, candidate.version);
      if (refused !== undefined) {
        this.reject(candidate.path, refused);
        this.rejected.set(candidate.path, signature);
        continue;
      }
      const bundle = await this.open(candidate.path, candidate);
      if (!bundle) {
        this.rejected.set(candidate.path, signature);
        continue;
      }
      // A rollback may have happened while the file was being opened.
      if (this.gate?.refuses(candidate.project, candidate.version) !== undefined || (this.holder.current?.version ?? -Infinity) >= candidate.version) return;
      const previous = this.holder.install(bundle, candidate.path);
      await this.gate?.accepted(bundle.manifest.project, bundle.version).catch((e: unknown) => this.log.error((e as Error).message));
      this.project = bundle.manifest.project;
      this.rejected.delete(candidate.path);
      this.metrics?.countBundleLoad('ok');
      this.log.info(`serving bundle ${bundle.manifest.project} v${bundle.version} from ${candidate.path}` + (previous ? ` (was v${previous.version})` : ''));
      return;
    }
    if (!this.holder.current) {
      this.setNotReady(candidates.length === 0 ? `no bundle files in ${this.dir} yet` : `no valid bundle in ${this.dir} (${candidates.length} file(s) rejected, see the log)`);
    }
  }

  /** Opens and checks one file; undefined (logged) when it cannot be served. */
  private async open(path: string, named: { project: string; version: number }): Promise<Bundle | undefined> {
    let bundle: Bundle;
    try {
      bundle = this.gate ? await this.gate.open(path) : await openBundle(path, { maxBytes: this.maxBundleBytes });
    } catch (e) {
      const message = (e as Error).message;
      this.reject(path, message.startsWith(`${path}: `) ? message.slice(path.length + 2) : message);
      return undefined;
    }
    const { project, version } = bundle.manifest;
    if (project !== named.project || version !== named.version) {
      this.reject(path, `its name says ${named.project} v${named.version} but its manifest says ${project} v${version}`);
      return undefined;
    }
    if (this.project !== undefined && project !== this.project) {
      this.reject(path, `it is of project "${project}", but this sidecar serves "${this.project}"`);
      return undefined;
    }
    return bundle;
  }

  private reject(path: string, why: string): void {
    this.metrics?.countBundleLoad('rejected');
    const keeping = this.holder.current ? `; still serving v${this.holder.current.version}` : '';
    this.log.warn(`skipping bundle ${path}: ${why}${keeping}`);
  }

  private setNotReady(reason: string): void {
    this.holder.notReadyReason = reason;
  }
}

/**
 * Size and mtime of a file and of its `.sig` (so a signature written after
 * its bundle is looked at again), or undefined when the file is gone.
 */
async function fileSignature(path: string): Promise<string | undefined> {
  try {
    const s = await stat(path);
    const sig = await stat(`${path}.sig`).catch(() => undefined);
    return `${s.size}:${s.mtimeMs}:${sig ? `${sig.size}:${sig.mtimeMs}` : '-'}`;
  } catch {
    return undefined;
  }
}
