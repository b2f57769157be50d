/**
 * Build progress on stderr. On a terminal, row counts update one line in
 * place; in CI logs (not a TTY) each step prints one line and row counts at
 * most every `quietIntervalMs`, so a long build never floods the log.
 */
import type { BuildProgress } from './build.js';

export interface ProgressPrinterOptions {
  stream?: NodeJS.WriteStream;
  /** Minimum ms between row-count lines when not a TTY. */
  quietIntervalMs?: number;
  /** Minimum ms between in-place updates on a TTY. */
  ttyIntervalMs?: number;
}

export function progressPrinter(opts: ProgressPrinterOptions = {}): { onProgress: (p: BuildProgress) => void; done: () => void } {
  const stream = opts.stream ?? process.stderr;
  const tty = stream.isTTY === true;
  const quietMs = opts.quietIntervalMs ?? 10_000;
  const ttyMs = opts.ttyIntervalMs ?? 100;
  let lastRowsAt = 0;
  let openLine = false;

  const endLine = () => {
    if (openLine) stream.write('\n');
    openLine = false;
  };

  const onProgress = (p: BuildProgress) => {
    if (p.phase === 'convert') {
      const now = Date.now();
      const last = p.rows === p.total;
      if (tty) {
        if (now - lastRowsAt < ttyMs && !last) return;
        lastRowsAt = now;
        stream.write(`\r\x1b[2K  ${p.message}`);
        openLine = true;
        if (last) endLine();
      } else if (now - lastRowsAt >= quietMs && !last) {
        lastRowsAt = now;
        stream.write(`  ${p.message}\n`);
      }
      return;
    }
    endLine();
    lastRowsAt = Date.now();
    if (p.phase === 'warning') stream.write(`larder: warning: ${p.message}\n`);
    else stream.write(`  ${p.message}\n`);
  };
  return { onProgress, done: endLine };
}
