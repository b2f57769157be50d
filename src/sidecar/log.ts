/** The sidecar's log: one line per event on stderr, so stdout stays for the listening line. */

export interface Logger {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

function line(level: string, message: string): void {
  process.stderr.write(`${new Date().toISOString()} ${level} ${message}\n`);
}

export const stderrLogger: Logger = {
  info: (m) => line('info', m),
  warn: (m) => line('warn', m),
  error: (m) => line('error', m),
};

export const silentLogger: Logger = { info() {}, warn() {}, error() {} };

/**
 * Logs the first event of a burst at once and the rest as one count when
 * the burst's window ends, so a failing tier (Redis down) writes a couple of
 * lines, not one per request.
 */
export class BurstLog {
  private readonly bursts = new Map<string, { more: number; timer: ReturnType<typeof setTimeout> }>();

  constructor(private readonly log: Logger, private readonly windowMs = 10_000) {}

  warn(key: string, message: string): void {
    const burst = this.bursts.get(key);
    if (burst) {
      burst.more++;
      return;
    }
    this.log.warn(message);
    const timer = setTimeout(() => {
      const ended = this.bursts.get(key);
      this.bursts.delete(key);
      if (ended && ended.more > 0) this.log.warn(`${key}: ${ended.more} more like the above in the last ${this.windowMs} ms`);
    }, this.windowMs);
    // A pending summary never keeps the process alive.
    timer.unref?.();
    this.bursts.set(key, { more: 0, timer });
  }
}
