/**
 * A fuzzing worker thread: takes ranges of case numbers from the main
 * thread, judges them, and sends back each range's tally. Before each case
 * it writes the case number and its start time into shared memory, so that
 * the main thread can tell a stuck case from a slow range and stop it.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { emptyTally, prepareSeeds, runCases } from './engine.js';
import type { Seed } from './seeds.js';

interface Data {
  seeds: Seed[];
  runSeed: number;
  /** [case number, start time (performance.timeOrigin + now), ...] per worker. */
  heartbeat: SharedArrayBuffer;
  slot: number;
}

const data = workerData as Data;
const beat = new Float64Array(data.heartbeat);
const seeds = await prepareSeeds(data.seeds);

parentPort!.on('message', (msg: { from: number; to: number } | 'stop') => {
  if (msg === 'stop') {
    process.exit(0);
  }
  const tally = emptyTally();
  void runCases(seeds, data.runSeed, msg.from, msg.to, tally, (n) => {
    beat[data.slot * 2] = n;
    beat[data.slot * 2 + 1] = performance.timeOrigin + performance.now();
  }).then(() => {
    beat[data.slot * 2 + 1] = 0;
    parentPort!.postMessage({ from: msg.from, to: msg.to, tally });
  });
});
parentPort!.postMessage('ready');
