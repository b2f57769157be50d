/**
 * Starts the served tap from `larder serve`'s options: the file sink when
 * --log-served names a directory, the drift window when --drift-sample is
 * above 0, their metrics, and error logging (once per burst).
 */
import type { ValueRule } from '../../core/asof.js';
import { BurstLog, type Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { LarderError } from '../../core/errors.js';
import { type ServeOptions, serveOption as option } from '../options.js';
import { FileSink } from './file-sink.js';
import { ServedTap } from './tap.js';

/** Unwritten log bytes the sink may hold before the tap stops feeding it (and drops once its buffer fills). */
export const MAX_PENDING_BYTES = 32 * 1024 * 1024;

export interface TapDeps {
  rule: ValueRule;
  metrics: Metrics;
  log: Logger;
}

/** The tap for `options`, or undefined when neither the log nor drift is on. */
export async function startServedTap(options: ServeOptions, deps: TapDeps): Promise<ServedTap | undefined> {
  const dir = option(options, 'logServed');
  const driftSample = option(options, 'driftSample');
  if (dir === null && driftSample === 0) return undefined;
  const errors = new BurstLog(deps.log);
  const onError = (message: string) => errors.warn('served log', message);
  let sink: FileSink | undefined;
  if (dir !== null) {
    try {
      sink = await FileSink.open({ dir, rotateBytes: option(options, 'logRotateBytes'), rotateMs: option(options, 'logRotateSeconds') * 1000, onError });
    } catch (e) {
      throw new LarderError('LARDER_ERR_OPTION', `--log-served (LARDER_LOG_SERVED): cannot write the served log to ${dir}: ${(e as Error).message}`);
    }
  }
  const tap = new ServedTap({
    rule: deps.rule,
    log: sink && { sink, sample: option(options, 'logSample'), sampleBy: option(options, 'logSampleBy'), bufferRows: option(options, 'logBufferRows'), maxPendingBytes: MAX_PENDING_BYTES },
    drift: driftSample > 0 ? { sample: driftSample, windowMs: option(options, 'driftWindowSeconds') * 1000 } : undefined,
    onError,
  });
  deps.metrics.addCollector(tap.collect);
  return tap;
}
