/**
 * The served-value log as rotating NDJSON files in one directory:
 *
 *   served-20260101T003000.000Z-4242-1.ndjson.part   being written
 *   served-20260101T003000.000Z-4242-1.ndjson        complete
 *
 * A file is written as `.part` and renamed to `.ndjson` (after an fsync)
 * when it passes `rotateBytes`, when it is older than `rotateMs`, and on
 * close, so readers that glob `*.ndjson` (DuckDB, `larder shadow`) only
 * ever see whole files. Names sort by opening time; the process id and a
 * sequence number keep them unique. Writes are queued and run one at a time
 * on libuv's threads (fs.writev of everything queued), never on the request
 * path. A write error loses its batch (counted), closes the file (left as
 * `.part`, its last line maybe cut) and the next batch opens a new one.
 */
import { close, fsync, open, rename, unlink, writev } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { ServedLogSink, SinkStats } from './sink.js';

export interface FileSinkOptions {
  dir: string;
  /** A file is closed once it holds at least this many bytes. */
  rotateBytes: number;
  /** A file is closed once it has been open this long (and holds a line). */
  rotateMs: number;
  /** Clock for file names and ages, epoch ms (default Date.now). */
  now?: () => number;
  /** Told about write errors (the caller rate-limits its log). */
  onError?: (message: string) => void;
}

interface OpenFile {
  fd: number;
  /** Path while open (`.part`). */
  path: string;
  bytes: number;
  openedMs: number;
}

const PART = '.part';

interface Queued {
  bytes: Uint8Array;
  rows: number;
  release: ((bytes: Uint8Array) => void) | undefined;
}

/** Writes all of `buffers` to `fd`, continuing after a short write. */
function writeFully(fd: number, buffers: Uint8Array[], done: (err: Error | null, bytes: number) => void, written = 0): void {
  writev(fd, buffers, (err, n) => {
    if (err) return done(err, written);
    let left = n;
    const rest: Uint8Array[] = [];
    for (const b of buffers) {
      if (left >= b.length) left -= b.length;
      else {
        rest.push(left > 0 ? b.subarray(left) : b);
        left = 0;
      }
    }
    if (rest.length === 0) done(null, written + n);
    else writeFully(fd, rest, done, written + n);
  });
}

export class FileSink implements ServedLogSink {
  readonly stats: SinkStats = { files: 0, bytesWritten: 0, rowsWritten: 0, rowsFailed: 0, writeErrors: 0 };
  pendingBytes = 0;
  onWritten: (() => void) | undefined;
  private readonly now: () => number;
  private readonly queue: Queued[] = [];
  private file: OpenFile | undefined;
  /** A write, an open or a rotation is in progress. */
  private busy = false;
  private seq = 0;
  private closed = false;
  private idle: (() => void)[] = [];
  private readonly timer: ReturnType<typeof setInterval>;

  private constructor(private readonly opts: FileSinkOptions) {
    this.now = opts.now ?? Date.now;
    // Rotates a file that has grown old while no line arrived to do it.
    this.timer = setInterval(() => this.pump(), Math.max(50, Math.min(opts.rotateMs / 4, 10_000)));
    this.timer.unref();
  }

  /** Creates the directory and opens the first file, so a directory that cannot be written fails at start-up. */
  static async open(opts: FileSinkOptions): Promise<FileSink> {
    await mkdir(opts.dir, { recursive: true });
    const sink = new FileSink(opts);
    await new Promise<void>((resolve, reject) => sink.openNext((err) => (err ? reject(err) : resolve())));
    return sink;
  }

  write(bytes: Uint8Array, rows: number, release?: (bytes: Uint8Array) => void): void {
    this.queue.push({ bytes, rows, release });
    this.pendingBytes += bytes.length;
    this.pump();
  }

  /** The current file's path (`.part`), if one is open. */
  get currentPath(): string | undefined {
    return this.file?.path;
  }

  private fileName(): string {
    const stamp = new Date(this.now()).toISOString().replace(/[-:]/g, '');
    return `served-${stamp}-${process.pid}-${++this.seq}.ndjson${PART}`;
  }

  private openNext(done: (err: Error | null) => void): void {
    const path = join(this.opts.dir, this.fileName());
    open(path, 'wx', (err, fd) => {
      if (err) return done(err);
      this.file = { fd, path, bytes: 0, openedMs: this.now() };
      this.stats.files++;
      done(null);
    });
  }

  /** Makes the current file durable and renames it to `.ndjson` (or removes it when empty). */
  private finish(file: OpenFile, done: () => void): void {
    const final = file.path.slice(0, -PART.length);
    fsync(file.fd, () => {
      close(file.fd, () => {
        if (file.bytes === 0) unlink(file.path, () => done());
        else rename(file.path, final, () => done());
      });
    });
  }

  private due(file: OpenFile): boolean {
    return file.bytes >= this.opts.rotateBytes || (file.bytes > 0 && this.now() - file.openedMs >= this.opts.rotateMs);
  }

  /** Starts the next step when none runs: rotate, open, or write everything queued. */
  private pump(): void {
    if (this.busy) return;
    const file = this.file;
    if (file && this.due(file)) {
      this.busy = true;
      this.file = undefined;
      this.finish(file, () => {
        this.busy = false;
        this.pump();
      });
      return;
    }
    if (this.queue.length === 0) {
      for (const resolve of this.idle.splice(0)) resolve();
      return;
    }
    if (!file) {
      this.busy = true;
      this.openNext((err) => {
        this.busy = false;
        if (err) this.fail(this.queue.splice(0), err);
        this.pump();
      });
      return;
    }
    const batch = this.queue.splice(0);
    this.busy = true;
    writeFully(file.fd, batch.map((b) => b.bytes), (err, bytes) => {
      this.busy = false;
      file.bytes += bytes;
      this.stats.bytesWritten += bytes;
      if (err) {
        this.fail(batch, err);
        this.file = undefined;
        close(file.fd, () => undefined);
      } else {
        this.stats.rowsWritten += batch.reduce((s, b) => s + b.rows, 0);
        this.pendingBytes -= batch.reduce((s, b) => s + b.bytes.length, 0);
        for (const b of batch) b.release?.(b.bytes);
      }
      this.pump();
      this.onWritten?.();
    });
  }

  private fail(batch: Queued[], err: Error): void {
    const rows = batch.reduce((s, b) => s + b.rows, 0);
    for (const b of batch) b.release?.(b.bytes);
    this.stats.writeErrors++;
    this.stats.rowsFailed += rows;
    this.pendingBytes -= batch.reduce((s, b) => s + b.bytes.length, 0);
    this.opts.onError?.(`served log: cannot write ${rows} entity row(s) to ${this.opts.dir}: ${err.message}; they are lost`);
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    clearInterval(this.timer);
    return new Promise<void>((resolve) => {
      this.idle.push(resolve);
      this.pump();
    }).then(
      () =>
        new Promise<void>((resolve) => {
          const file = this.file;
          this.file = undefined;
          if (file) this.finish(file, resolve);
          else resolve();
        }),
    );
  }
}
