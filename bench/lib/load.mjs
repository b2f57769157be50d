/**
 * One autocannon run against POST /get-online-features, with every
 * response's time recorded in an HDR histogram in microseconds (autocannon's
 * own histogram counts whole milliseconds).
 *
 * Each request's body comes from `nextBody()` (fresh random keys). Every
 * response is checked for status 200, a plausible length and its structure
 * (`checkText`: cheap, no parsing); every `deepCheckEvery`-th is also parsed
 * and checked by `checkShape`. The sidecar benchmark runs this in
 * load-child.mjs, a process pinned to the load generator's core.
 */
import autocannon from 'autocannon';
import hdr from 'hdr-histogram-js';
import { cpuMsOf } from './proc-cpu.mjs';

export function newHistogram() {
  // 1 µs .. 60 s, 3 significant digits.
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
}

/**
 * @param {object} o
 * @param {string} o.url            base URL of the server
 * @param {() => Buffer} o.nextBody a new request body (JSON) per call
 * @param {number} o.durationSec
 * @param {number} o.connections
 * @param {number} [o.overallRate]  requests/s across all connections (autocannon's pacing)
 * @param {{min:number,max:number}} o.bodyLength  accepted response body lengths (characters)
 * @param {(text: string) => string|undefined} o.checkText     an error message, or undefined
 * @param {(parsed: unknown) => string|undefined} o.checkShape  an error message, or undefined
 * @param {number} [o.deepCheckEvery]
 * @param {number} [o.serverPid]    to report the server's CPU use
 */
export async function runLoad(o) {
  const histogram = newHistogram();
  const problems = new Map(); // message -> count
  const addProblem = (msg) => problems.set(msg, (problems.get(msg) ?? 0) + 1);
  let responses = 0;
  let checked = 0;
  const every = o.deepCheckEvery ?? 32;
  const nextBody = o.nextBody;

  const requests = [{
    method: 'POST',
    path: '/get-online-features',
    headers: { 'content-type': 'application/json' },
    setupRequest(req) {
      req.body = nextBody();
      return req;
    },
    onResponse(status, body) {
      responses++;
      if (status !== 200) {
        addProblem(`status ${status}: ${String(body).slice(0, 200)}`);
        return;
      }
      if (body.length < o.bodyLength.min || body.length > o.bodyLength.max) {
        addProblem(`body length ${body.length} outside ${o.bodyLength.min}..${o.bodyLength.max}`);
        return;
      }
      const bad = o.checkText(body);
      if (bad) {
        addProblem(`wrong structure: ${bad}`);
        return;
      }
      if (responses % every === 0) {
        checked++;
        let parsed;
        try {
          parsed = JSON.parse(body);
        } catch (e) {
          addProblem(`invalid JSON: ${e.message}`);
          return;
        }
        const why = o.checkShape(parsed);
        if (why) addProblem(`wrong shape: ${why}`);
      }
    },
  }];

  const cpu0 = { server: o.serverPid ? cpuMsOf(o.serverPid) : NaN, self: process.cpuUsage() };
  const t0 = performance.now();
  const instance = autocannon({
    url: o.url,
    connections: o.connections,
    pipelining: 1,
    duration: o.durationSec,
    ...(o.overallRate ? { overallRate: o.overallRate } : {}),
    requests,
  });
  instance.on('response', (_client, _status, _bytes, responseTimeMs) => {
    histogram.recordValue(Math.max(1, Math.round(responseTimeMs * 1000)));
  });
  const result = await instance;
  const wallMs = performance.now() - t0;
  const selfCpu = process.cpuUsage(cpu0.self);
  const serverCpuMs = o.serverPid ? cpuMsOf(o.serverPid) - cpu0.server : NaN;

  return {
    histogram,
    count: histogram.totalCount,
    wallMs,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    autocannonTotal: result.requests.total,
    problems: [...problems].map(([message, count]) => ({ message, count })),
    deepChecked: checked,
    serverCpuPct: (serverCpuMs / wallMs) * 100,
    loadGenCpuPct: ((selfCpu.user + selfCpu.system) / 1000 / wallMs) * 100,
  };
}

/**
 * Merges runs of one server and case into one line of figures. A run's
 * histogram is an hdr-histogram-js histogram, or one compressed as base64
 * (load-child.mjs sends it so).
 */
export function summarize(runs) {
  const h = newHistogram();
  let count = 0, wallMs = 0, non2xx = 0, errors = 0, timeouts = 0, deepChecked = 0;
  let serverCpu = 0, loadCpu = 0;
  const problems = new Map();
  for (const r of runs) {
    h.add(typeof r.histogram === 'string' ? hdr.decodeFromCompressedBase64(r.histogram) : r.histogram);
    count += r.count;
    wallMs += r.wallMs;
    non2xx += r.non2xx;
    errors += r.errors;
    timeouts += r.timeouts;
    deepChecked += r.deepChecked;
    serverCpu += (r.serverCpuPct * r.wallMs) / 100;
    loadCpu += (r.loadGenCpuPct * r.wallMs) / 100;
    for (const p of r.problems) problems.set(p.message, (problems.get(p.message) ?? 0) + p.count);
  }
  return {
    count,
    rps: count / (wallMs / 1000),
    p50: h.getValueAtPercentile(50),
    p99: h.getValueAtPercentile(99),
    p999: h.getValueAtPercentile(99.9),
    max: h.maxValue,
    non2xx, errors, timeouts, deepChecked,
    problems: [...problems].map(([message, c]) => ({ message, count: c })),
    serverCpuPct: (serverCpu / wallMs) * 100,
    loadGenCpuPct: (loadCpu / wallMs) * 100,
  };
}
