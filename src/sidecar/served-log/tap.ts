/**
 * The served tap: what the sidecar answered, for the served-value log and
 * the drift window, kept off the request path.
 *
 * A request only offers its answer (offer: a sampling decision and a push
 * onto a bounded queue; no formatting, no I/O). After the response is
 * sent, the queue is drained on the event loop in slices of a few
 * milliseconds: each answer's columns are read again from the very
 * AnswerColumns the response was written from (its rows already judged by
 * the value rule, so the logged values are the served ones), written as
 * NDJSON lines (core/shadow/served-record.ts) and counted into the drift
 * window. Rows, bundles and plans are immutable, so reading them later
 * gives the same answer. Lines go to the sink in batches of about 256 KB.
 *
 * Bounds: at most `bufferRows` entity rows wait in the queue; a request
 * that does not fit is dropped and counted (never waited for). The queue
 * also stops draining while the sink holds more than `maxPendingBytes`
 * unwritten, so a slow disk shows up as drops, not as memory. close()
 * drains and writes everything accepted, for a clean shutdown.
 */
import type { ValueRule } from '../../core/asof.js';
import type { AnswerColumn, AnswerColumns } from '../../core/feast/answer.js';
import type { ResolvedRequest } from '../../core/feast/online.js';
import { entityKeyString, hashKey } from '../../core/keys.js';
import { DriftWindow, type DriftReport } from '../../core/shadow/drift.js';
import { type ServedAnswer, ServedLineWriter } from '../../core/shadow/served-record.js';
import { type MetricsCollector, escapeLabel, metricFamily } from '../metrics.js';
import type { ServingState } from '../serving-state.js';
import type { ServedLogSink } from './sink.js';

export interface TapLogOptions {
  sink: ServedLogSink;
  /** Fraction of entities (sampleBy key) or requests logged. */
  sample: number;
  sampleBy: 'key' | 'request';
  /** Most entity rows waiting in the queue. */
  bufferRows: number;
  /** The queue is not drained while the sink holds more unwritten bytes than this. */
  maxPendingBytes: number;
}

export interface TapOptions {
  rule: ValueRule;
  log?: TapLogOptions;
  drift?: { sample: number; windowMs: number };
  /** Told when an answer cannot be logged (a bug: the answer itself was sent). */
  onError?: (message: string) => void;
  /** Draining runs for at most this long per turn of the event loop, ms (default 4). */
  sliceMs?: number;
}

interface Capture {
  state: ServingState;
  resolved: ResolvedRequest;
  /** The answer's columns, as the response was written from them. */
  answer: AnswerColumns;
  nowMs: number;
  seq: number;
  /** Entities to log (1) or not; null: all, when `rows` > 0. */
  keep: Uint8Array | null;
  /** Entity rows to log; 0: the answer feeds drift only. */
  rows: number;
  drift: boolean;
}

/** An entity's sampling key: its join key values, by join key name. */
function entityKey(resolved: ResolvedRequest, i: number, order: readonly number[]): string {
  const joinKeys = resolved.plan.joinKeys;
  const parts = order.map((k) => joinKeys[k]!.values[i] as string | number);
  return entityKeyString(parts);
}

const TWO_32 = 2 ** 32;
/** Lines are handed to the sink in batches of about this many bytes... */
const FLUSH_BYTES = 256 * 1024;
/** ...or this long after the first line of a batch, ms. */
const FLUSH_MS = 100;

export class ServedTap {
  private readonly log: TapLogOptions | undefined;
  private readonly driftSample: number;
  private readonly driftWindowMs: number;
  private readonly rule: ValueRule;
  private readonly sliceMs: number;
  private readonly onError: (message: string) => void;
  /** The queue: captures[head..] wait. */
  private captures: Capture[] = [];
  private head = 0;
  private queuedRows = 0;
  private scheduled = false;
  private closing = false;
  private seq = 0;
  private readonly idPrefix = `${Date.now().toString(36)}.${process.pid}.`;
  private readonly lines = new ServedLineWriter();
  /** Rows in `lines` not yet handed to the sink. */
  private batchRows = 0;
  private flushTimer: ReturnType<typeof setTimeout> | undefined;
  /**
   * The drift window of the newest bundle that answers fed. It refers to its
   * serving state weakly: a swapped-out bundle must be free to go.
   */
  private window: { state: WeakRef<ServingState>; installedAtMs: number; drift: DriftWindow } | undefined;
  private readonly asOfMs = new WeakMap<ServingState, number>();
  /** Counters for /metrics. */
  private accepted = 0;
  private dropped = 0;
  private failed = 0;

  constructor(opts: TapOptions) {
    this.log = opts.log;
    this.driftSample = opts.drift?.sample ?? 0;
    this.driftWindowMs = opts.drift?.windowMs ?? 600_000;
    this.rule = opts.rule;
    this.sliceMs = opts.sliceMs ?? 4;
    this.onError = opts.onError ?? (() => undefined);
    if (this.log) this.log.sink.onWritten = () => this.schedule();
  }

  get logging(): boolean {
    return this.log !== undefined;
  }

  get drifting(): boolean {
    return this.driftSample > 0;
  }

  /**
   * The request path's one call, after the response is written from
   * `answer` (judged at `nowMs`): decides whether the answer is logged or
   * watched for drift, and queues it if so. Never throws, never waits.
   * The tap reads `answer` again later; the caller must not.
   */
  offer(state: ServingState, resolved: ResolvedRequest, answer: AnswerColumns, nowMs: number): void {
    if (this.closing) return;
    const n = resolved.plan.entityCount;
    let keep: Uint8Array | null = null;
    let rows = 0;
    const log = this.log;
    if (log) {
      if (log.sample >= 1) rows = n;
      else if (log.sampleBy === 'request') rows = Math.random() < log.sample ? n : 0;
      else ({ keep, rows } = this.sampleKeys(resolved, log.sample));
    }
    const drift = this.driftSample > 0 && (this.driftSample >= 1 || Math.random() < this.driftSample);
    if (rows === 0 && !drift) return;
    if (this.queuedRows + n > (log?.bufferRows ?? 10_000)) {
      this.dropped += rows;
      return;
    }
    this.accepted += rows;
    this.queuedRows += n;
    this.captures.push({ state, resolved, answer, nowMs, seq: ++this.seq, keep, rows, drift });
    this.schedule();
  }

  /** The entities whose key hash falls in the sample: the same entity is always in or always out. */
  private sampleKeys(resolved: ResolvedRequest, sample: number): { keep: Uint8Array | null; rows: number } {
    const n = resolved.plan.entityCount;
    const joinKeys = resolved.plan.joinKeys;
    const order = joinKeys.map((_, k) => k).sort((a, b) => (joinKeys[a]!.name < joinKeys[b]!.name ? -1 : 1));
    const keep = new Uint8Array(n);
    let rows = 0;
    for (let i = 0; i < n; i++) {
      if (hashKey(entityKey(resolved, i, order)) / TWO_32 < sample) {
        keep[i] = 1;
        rows++;
      }
    }
    return { keep: rows === n ? null : keep, rows };
  }

  private schedule(): void {
    if (this.scheduled || this.head === this.captures.length) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.drain(false);
    });
  }

  /** Processes queued answers for up to sliceMs (all of them when `all`), then hands the lines to the sink. */
  private drain(all: boolean): void {
    const deadline = performance.now() + this.sliceMs;
    const log = this.log;
    while (this.head < this.captures.length) {
      if (!all && log && log.sink.pendingBytes > log.maxPendingBytes) break; // resumed by the sink's onWritten
      const c = this.captures[this.head]!;
      this.captures[this.head++] = undefined as unknown as Capture;
      this.queuedRows -= c.resolved.plan.entityCount;
      this.process(c);
      if (!all && performance.now() > deadline) {
        this.flushSoon();
        this.schedule();
        return;
      }
    }
    if (this.head === this.captures.length) {
      this.captures = [];
      this.head = 0;
    }
    this.flushSoon();
  }

  /**
   * Hands the lines to the sink once FLUSH_BYTES are ready, or FLUSH_MS
   * after the first of them: one large write instead of one per turn of
   * the event loop (each fs call costs about as much as formatting a line).
   */
  private flushSoon(): void {
    if (this.batchRows === 0) return;
    if (this.lines.length >= FLUSH_BYTES) this.flush();
    else this.flushTimer ??= setTimeout(() => this.flush(), FLUSH_MS).unref();
  }

  private readonly giveBack = (bytes: Uint8Array): void => this.lines.give(bytes as Uint8Array<ArrayBuffer>);

  private flush(): void {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    if (this.batchRows === 0) return;
    this.log!.sink.write(this.lines.take(), this.batchRows, this.giveBack);
    this.batchRows = 0;
  }

  private process(c: Capture): void {
    try {
      const { plan, results, tierNames } = c.resolved;
      const n = plan.entityCount;
      const drift = c.drift ? this.driftFor(c.state, c.nowMs) : undefined;
      const observe = drift && ((r: number, column: AnswerColumn) => {
        const output = plan.selection.outputs[r]!;
        drift.observe(output.view.name, output.featureIndex, column, n, c.nowMs);
      });
      if (c.rows > 0) {
        const answer: ServedAnswer = {
          plan, results, tierNames, nowMs: c.nowMs, rule: this.rule,
          project: c.state.manifest.project, bundleVersion: c.state.version, bundleAsOfMs: this.bundleAsOf(c.state),
          requestId: this.idPrefix + c.seq, columns: c.answer,
        };
        this.lines.write(answer, c.keep, observe);
        this.batchRows += c.rows;
      } else if (observe) {
        const columns = c.answer;
        const first = columns.joinKeyNames.length;
        for (let r = first; r < columns.count; r++) observe(r - first, columns.column(r));
      }
    } catch (e) {
      this.failed += c.rows;
      this.onError(`served log: could not record an answer: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    }
  }

  private bundleAsOf(state: ServingState): number {
    let ms = this.asOfMs.get(state);
    if (ms === undefined) this.asOfMs.set(state, (ms = Date.parse(state.manifest.asOf)));
    return ms;
  }

  /**
   * The drift window of `state`'s bundle. A newer bundle starts a new
   * window; answers of an older one still queued are not counted in it.
   */
  private driftFor(state: ServingState, nowMs: number): DriftWindow | undefined {
    const w = this.window;
    if (w && w.state.deref() === state) return w.drift;
    if (w && w.installedAtMs > state.installedAtMs) return undefined;
    this.window = { state: new WeakRef(state), installedAtMs: state.installedAtMs, drift: new DriftWindow(state.manifest, { windowMs: this.driftWindowMs }, nowMs) };
    return this.window.drift;
  }

  /** The drift report of the bundle being served, or undefined when drift is off or nothing is served. */
  driftReport(state: ServingState | undefined, nowMs: number): DriftReport | undefined {
    if (!this.drifting || !state) return undefined;
    return this.driftFor(state, nowMs)?.report(nowMs);
  }

  /** The tap's metric families. */
  readonly collect: MetricsCollector = (out, nowMs) => {
    if (this.log) {
      const s = this.log.sink.stats;
      metricFamily(out, 'larder_served_log_rows_total', 'counter', 'Entity rows of the served-value log: accepted into its buffer, written to files, dropped because the buffer was full, or lost to a write error.');
      out.push(
        `larder_served_log_rows_total{result="accepted"} ${this.accepted}`,
        `larder_served_log_rows_total{result="written"} ${s.rowsWritten}`,
        `larder_served_log_rows_total{result="dropped"} ${this.dropped}`,
        `larder_served_log_rows_total{result="failed"} ${s.rowsFailed + this.failed}`,
      );
      metricFamily(out, 'larder_served_log_buffer_rows', 'gauge', 'Entity rows waiting in the served-log buffer (bounded by --log-buffer-rows).');
      out.push(`larder_served_log_buffer_rows ${this.queuedRows}`);
      metricFamily(out, 'larder_served_log_bytes_total', 'counter', 'Bytes written to served-log files.');
      out.push(`larder_served_log_bytes_total ${s.bytesWritten}`);
      metricFamily(out, 'larder_served_log_files_total', 'counter', 'Served-log files opened.');
      out.push(`larder_served_log_files_total ${s.files}`);
      metricFamily(out, 'larder_served_log_write_errors_total', 'counter', 'Failed writes to served-log files (their rows are lost).');
      out.push(`larder_served_log_write_errors_total ${s.writeErrors}`);
    }
    const report = this.drifting ? this.window?.drift.report(nowMs) : undefined;
    if (report) {
      const project = escapeLabel(report.project);
      metricFamily(out, 'larder_feature_drift_psi', 'gauge', 'Population stability index of served values against the bundle\'s training distribution, over the drift window (absent until a value is counted).');
      for (const f of report.features) {
        if (f.psi !== null) out.push(`larder_feature_drift_psi{project="${project}",view="${escapeLabel(f.view)}",feature="${escapeLabel(f.feature)}"} ${f.psi}`);
      }
      metricFamily(out, 'larder_feature_drift_samples', 'gauge', 'Served values counted in the drift window.');
      for (const f of report.features) out.push(`larder_feature_drift_samples{project="${project}",view="${escapeLabel(f.view)}",feature="${escapeLabel(f.feature)}"} ${f.samples}`);
    }
  };

  /** Stops taking answers, logs every one accepted, and closes the sink. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.drain(true);
    this.flush();
    await this.log?.sink.close();
  }
}
