/**
 * `--hot-keys-out <dir>`: the sidecar writes what GET /hot-keys answers to
 * files itself, one per view (`<dir>/<view>.hot-keys.csv`, the CSV form
 * that `larder build --hot-keys` reads), every `--hot-keys-every` seconds
 * and once more on shutdown. A build job can then read the newest counts
 * from a shared folder without reaching the sidecar over HTTP.
 *
 * Each file is replaced atomically (atomic-file.ts), so a build never reads
 * half a file. Counts are those of the sketch since the sidecar started.
 * Writing happens off the request path, on a timer; a write that fails is
 * logged once per burst and tried again at the next tick.
 */
import { mkdir, access, constants } from 'node:fs/promises';
import { join } from 'node:path';
import { LarderError } from '../../core/errors.js';
import { replaceFile, tempPathFor } from '../../atomic-file.js';
import { BurstLog, type Logger } from '../log.js';
import type { ServingStateHolder } from '../serving-state.js';
import { type HotKeyCounter, hotKeysCsv } from './hot-keys.js';

/** The file a view's hot keys are written to. */
const hotKeysFileName = (view: string): string => `${encodeURIComponent(view)}.hot-keys.csv`;

export interface HotKeyFilesOptions {
  dir: string;
  everyMs: number;
  counter: HotKeyCounter;
  holder: ServingStateHolder;
  log: Logger;
}

export class HotKeyFiles {
  private timer: ReturnType<typeof setInterval> | undefined;
  /** The write under way, so that ticks and the final write never overlap. */
  private writing: Promise<void> | undefined;
  private readonly burst: BurstLog;

  private constructor(private readonly opts: HotKeyFilesOptions) {
    this.burst = new BurstLog(opts.log);
  }

  /** Creates the folder (a start-up error names the option when it cannot) and starts the timer. */
  static async start(opts: HotKeyFilesOptions): Promise<HotKeyFiles> {
    try {
      await mkdir(opts.dir, { recursive: true });
      await access(opts.dir, constants.W_OK);
    } catch (e) {
      throw new LarderError('LARDER_ERR_OPTION', `--hot-keys-out ${opts.dir}: cannot write there (${(e as Error).message})`);
    }
    const files = new HotKeyFiles(opts);
    files.timer = setInterval(() => void files.writeNow(), opts.everyMs);
    files.timer.unref();
    return files;
  }

  /** Writes every view's file now (after the write under way, if any). */
  writeNow(): Promise<void> {
    // writeAll never rejects (a failed file is logged), so the chain never breaks.
    this.writing = (this.writing ?? Promise.resolve()).then(() => this.writeAll());
    return this.writing;
  }

  private async writeAll(): Promise<void> {
    const state = this.opts.holder.current;
    if (!state) return;
    const { counter, dir } = this.opts;
    for (const view of state.manifest.views) {
      // A view nobody asked for keeps its last file (or none): an empty file would tell a build to hold no keys.
      if (counter.observed(view.name) === 0) continue;
      const path = join(dir, hotKeysFileName(view.name));
      const text = hotKeysCsv(view.joinKeys.map((k) => k.name), counter.top(view.name, counter.capacity));
      try {
        await replaceFile(path, tempPathFor(path), (file) => file.writeFile(text));
      } catch (e) {
        this.burst.warn('hot keys file', `hot keys: could not write ${path}: ${(e as Error).message}; trying again in ${this.opts.everyMs / 1000} s`);
      }
    }
  }

  /** Stops the timer (requests may still be counted until close). */
  stop(): void {
    clearInterval(this.timer);
  }

  /** Stops the timer and writes the files one last time. */
  async close(): Promise<void> {
    this.stop();
    await this.writeNow();
  }
}
