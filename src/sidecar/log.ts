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
