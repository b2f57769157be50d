/**
 * The served tap: what the sidecar answered, for the served-value log and
 * the drift window.
 *
 * The log: a request's line is written right after its response body
 * (before the body is sent), copied from the body's own bytes
 * (feastResponseJson's spans: the values and statuses just written, so the
 * logged values are the served ones) into a batch in memory;
 * core/shadow/served-record.ts writes it. That is a few copies per feature,
 * a few microseconds, cheaper than keeping the answer to judge and format
 * it again after the response. Batches go to the sink (which writes files
 * on libuv's threads) once about 1 MB is ready, or 100 ms after their
 * first line: the request path never waits for the disk.
 *
 * Bounds: at most `bufferRows` entity rows wait in the batch; a request
 * that does not fit is dropped and counted (never waited for). The batch
 * is not handed on while the sink holds more than `maxPendingBytes`
 * unwritten, so a slow disk shows up as drops, not as memory. close()
 * writes everything accepted, for a clean shutdown.
 *
 * Drift: a sampled answer is queued and counted into the drift window
 * after the response, on the event loop in slices of a few milliseconds,
 * from the very AnswerColumns the response was written from. Rows,
 * bundles and plans are immutable, so reading them later gives the same
 * answer.
 */
import type { ValueRule } from '../../core/asof.js';
import type { AnswerColumns } from '../../core/feast/answer.js';
import type { ResolvedRequest } from '../../core/feast/online.js';
import type { ResponseSpans } from '../../core/feast/response-json.js';
import { entityKeyString, hashKey } from '../../core/keys.js';
import { DriftWindow, type DriftReport } from '../../core/shadow/drift.js';
import { ServedLineWriter } from '../../core/shadow/served-record.js';
import { type MetricsCollector, escapeLabel, metricFamily } from '../metrics.js';
import type { ServingState } from '../serving-state.js';
import type { ServedLogSink } from './sink.js';

export interface TapLogOptions {
  sink: ServedLogSink;
  /** Fraction of entities (sampleBy key) or requests logged. */
  sample: number;
  sampleBy: 'key' | 'request';
  /** Most entity rows waiting in the batch. */
  bufferRows: number;
  /** The batch is not handed to the sink while it holds more unwritten bytes than this. */
  maxPendingBytes: number;
}

export interface TapOptions {
  rule: ValueRule;
  log?: TapLogOptions;
  drift?: { sample: number; windowMs: number };
  /** Told when an answer cannot be logged (a bug: the answer itself was sent). */
  onError?: (message: string) => void;
  /** Drift counting runs for at most this long per turn of the event loop, ms (default 4). */
  sliceMs?: number;
}

/** An answer waiting to be counted into the drift window. */
interface Capture {
  state: ServingState;
  resolved: ResolvedRequest;
  /** The answer's columns, as the response was written from them. */
  answer: AnswerColumns;
  nowMs: number;
}

/** Most entity rows of answers waiting for the drift window; more are not sampled. */
const DRIFT_QUEUE_ROWS = 10_000;

/** An entity's sampling key: its join key values, by join key name. */
function entityKey(resolved: ResolvedRequest, i: number, order: readonly number[]): string {
  const joinKeys = resolved.plan.joinKeys;
  const parts = order.map((k) => joinKeys[k]!.values[i] as string | number);
  return entityKeyString(parts);
}

const TWO_32 = 2 ** 32;
/**
 * Lines are handed to the sink in batches of about this many bytes (each
 * write costs the event loop a dispatch and a completion, some tens of
 * microseconds: per megabyte that is little next to writing the lines)...
 */
const FLUSH_BYTES = 1024 * 1024;
/** ...or this long after the first line of a batch, ms. */
const FLUSH_MS = 100;

export class ServedTap {
  private readonly log: TapLogOptions | undefined;
  private readonly driftSample: number;
  private readonly driftWindowMs: number;
  private readonly rule: ValueRule;
  private readonly sliceMs: number;
  private readonly onError: (message: string) => void;
  /** The drift queue: captures[head..] wait. */
  private captures: Capture[] = [];
  private head = 0;
  private queuedRows = 0;
  private scheduled = false;
  private closing = false;
  private seq = 0;
  /** request_id: this process's start time and pid, then the request's number. */
  private readonly lines = new ServedLineWriter(`${Date.now().toString(36)}.${process.pid}.`);
  /** Entity rows in `lines` not yet handed to the sink. */
  private batchRows = 0;
  private flushTimer: ReturnType<typeof setTimeout> | undefined;
  /** Reused for every response (see spansFor). */
  private spans = new Int32Array(64);
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
    if (this.log) this.log.sink.onWritten = () => this.flushIfReady();
  }

  get logging(): boolean {
    return this.log !== undefined;
  }

  get drifting(): boolean {
    return this.driftSample > 0;
  }

  /**
   * The array a response of `columns` columns records its spans in, for
   * offer() to copy the log's values from (undefined: nothing is logged).
   * One array, reused: each response's spans are read by its offer() call.
   */
  spansFor(columns: number): ResponseSpans | undefined {
    if (!this.log || this.closing) return undefined;
    if (this.spans.length < 4 * columns) this.spans = new Int32Array(8 * columns);
    return this.spans;
  }

  /**
   * The request path's one call, once the response is written from
   * `answer` (judged at `nowMs`) into `body` (with `spans` from spansFor):
   * decides whether the answer is logged or watched for drift; writes its
   * log line into the batch, or queues it for drift. Never throws, never
   * waits. The tap may read `answer` again later; the caller must not.
   */
  offer(state: ServingState, resolved: ResolvedRequest, answer: AnswerColumns, nowMs: number, body?: Uint8Array, spans?: ResponseSpans): void {
    if (this.closing) return;
    const n = resolved.plan.entityCount;
    const log = this.log;
    if (log) {
      let keep: Uint8Array | null = null;
      let rows = n;
      if (log.sample < 1) {
        if (log.sampleBy === 'request') rows = Math.random() < log.sample ? n : 0;
        else ({ keep, rows } = this.sampleKeys(resolved, log.sample));
      }
      if (rows > 0) this.logLine(log, state, resolved, answer, nowMs, keep, rows, body, spans);
    }
    if (this.driftSample > 0 && (this.driftSample >= 1 || Math.random() < this.driftSample) && this.queuedRows + n <= DRIFT_QUEUE_ROWS) {
      this.queuedRows += n;
      this.captures.push({ state, resolved, answer, nowMs });
      this.schedule();
    }
  }

  private logLine(log: TapLogOptions, state: ServingState, resolved: ResolvedRequest, answer: AnswerColumns, nowMs: number, keep: Uint8Array | null, rows: number, body: Uint8Array | undefined, spans: ResponseSpans | undefined): void {
    if (this.batchRows + rows > log.bufferRows) {
      this.dropped += rows;
      return;
    }
    try {
      const { plan, results, tierNames } = resolved;
      this.lines.write({
        plan, results, tierNames, nowMs, rule: this.rule,
        project: state.manifest.project, bundleVersion: state.version, bundleAsOfMs: this.bundleAsOf(state),
        requestSeq: ++this.seq, columns: answer, responseBytes: body, responseSpans: spans,
      }, keep);
    } catch (e) {
      this.failed += rows;
      this.onError(`served log: could not record an answer: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
      return;
    }
    this.accepted += rows;
    this.batchRows += rows;
    this.flushSoon();
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

  /**
   * Hands the lines to the sink once FLUSH_BYTES are ready (or half the
   * row bound, so a small --log-buffer-rows still moves), or FLUSH_MS after
   * the first of them: one large write instead of one per request (each fs
   * call costs about as much as writing a few lines).
   */
  private flushSoon(): void {
    if (this.batchRows === 0) return;
    if (this.lines.length >= FLUSH_BYTES || 2 * this.batchRows >= this.log!.bufferRows) this.flush();
    else this.flushTimer ??= setTimeout(() => this.flush(), FLUSH_MS).unref();
  }

  /** After a write: hands on a batch that was held back while the sink was full. */
  private flushIfReady(): void {
    if (this.batchRows > 0 && this.flushTimer === undefined) this.flushSoon();
  }

  private readonly giveBack = (bytes: Uint8Array): void => this.lines.give(bytes as Uint8Array<ArrayBuffer>);

  /** Hands the batch to the sink, unless it holds too much unwritten (then the sink's next write calls flushIfReady). */
  private flush(force = false): void {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    const log = this.log!;
    if (this.batchRows === 0 || (!force && log.sink.pendingBytes > log.maxPendingBytes)) return;
    log.sink.write(this.lines.take(), this.batchRows, this.giveBack);
    this.batchRows = 0;
  }

  private schedule(): void {
    if (this.scheduled || this.head === this.captures.length) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.drain(false);
    });
  }

  /** Counts queued answers into the drift window for up to sliceMs (all of them when `all`). */
  private drain(all: boolean): void {
    const deadline = performance.now() + this.sliceMs;
    while (this.head < this.captures.length) {
      const c = this.captures[this.head]!;
      this.captures[this.head++] = undefined as unknown as Capture;
      this.queuedRows -= c.resolved.plan.entityCount;
      this.observe(c);
      if (!all && performance.now() > deadline) {
        this.schedule();
        return;
      }
    }
    this.captures = [];
    this.head = 0;
  }

  private observe(c: Capture): void {
    try {
      const drift = this.driftFor(c.state, c.nowMs);
      if (!drift) return;
      const plan = c.resolved.plan;
      const columns = c.answer;
      const first = columns.joinKeyNames.length;
      for (let r = first; r < columns.count; r++) {
        const output = plan.selection.outputs[r - first]!;
        drift.observe(output.view.name, output.featureIndex, columns.column(r), plan.entityCount, c.nowMs);
      }
    } catch (e) {
      this.onError(`drift: could not count an answer: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
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
      out.push(`larder_served_log_buffer_rows ${this.batchRows}`);
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

  /** Stops taking answers, writes every line accepted, and closes the sink. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.drain(true);
    if (this.log) this.flush(true);
    await this.log?.sink.close();
  }
}
