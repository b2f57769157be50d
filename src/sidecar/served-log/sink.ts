/**
 * Where the served-value log goes. The tap hands a sink whole NDJSON lines
 * and never waits for it: a sink queues them and writes in the background,
 * and says how much it still holds so the tap can stop feeding it (and
 * drop, counted) when it falls behind. file-sink.ts writes rotating files;
 * another sink (a socket, object storage) implements the same interface.
 */
export interface SinkStats {
  /** Files (or other units) opened. */
  files: number;
  bytesWritten: number;
  /** Entity rows written (a line logs a request's entities). */
  rowsWritten: number;
  /** Entity rows lost to write errors. */
  rowsFailed: number;
  writeErrors: number;
}

export interface ServedLogSink {
  /**
   * Queues `bytes`, whole lines logging `rows` entity rows, to be written. The sink holds the
   * buffer until it calls `release` with it (written or failed); the caller
   * must not change it before then.
   */
  write(bytes: Uint8Array, rows: number, release?: (bytes: Uint8Array) => void): void;
  /** Bytes queued and not yet written. */
  readonly pendingBytes: number;
  /** Called whenever a write completes, so a caller that held back can feed more. */
  onWritten: (() => void) | undefined;
  readonly stats: SinkStats;
  /** Writes everything queued, makes it durable and releases the sink. */
  close(): Promise<void>;
}
