/**
 * One autocannon run (lib/load.mjs) in its own process, so that the load
 * generator can be pinned to its own core (sidecar.mjs starts this with
 * taskset). `node bench/load-child.mjs '<json spec>'`; prints the run's
 * figures as one JSON line, its HDR histogram compressed (base64).
 *
 * spec: { url, parts (bodyParts of the case), case: { id, entities, features },
 *         bodyLength: { min, max }, durationSec, connections, overallRate?, serverPid }
 */
import hdr from 'hdr-histogram-js';
import { bodyMaker, deepEvery, shapeChecker, textChecker } from './lib/cases.mjs';
import { runLoad } from './lib/load.mjs';

const spec = JSON.parse(process.argv[2] ?? '{}');
const c = spec.case;
const run = await runLoad({
  url: spec.url,
  nextBody: bodyMaker(spec.parts),
  durationSec: spec.durationSec,
  connections: spec.connections,
  overallRate: spec.overallRate,
  bodyLength: spec.bodyLength,
  checkText: textChecker(c),
  checkShape: shapeChecker(c),
  // Parsing a 240 KB answer costs the load generator milliseconds and
  // garbage that show up in the next responses' times: parse fewer.
  deepCheckEvery: deepEvery(c),
  serverPid: spec.serverPid,
});
const { histogram, ...figures } = run;
process.stdout.write(`${JSON.stringify({ ...figures, histogram: hdr.encodeIntoCompressedBase64(histogram) })}\n`);
