/**
 * One wrk run against POST /get-online-features, wrk pinned to LOAD_CORE,
 * with the CPU the server (pinned to SERVER_CORE by its starter) and wrk
 * used during it. wrk is a C load generator with one event loop per thread;
 * one thread on its own core sends requests made by wrk/random-keys.lua.
 */
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { cpuMsOf } from './proc-cpu.mjs';
import { BenchSetupError, LOAD_CORE, SERVER_CORE, busyPct, checkPinning, coreTicks, pinned } from './pinning.mjs';

const SCRIPT = fileURLToPath(new URL('../wrk/random-keys.lua', import.meta.url));
const POLL_MS = 200;

/** wrk's version line; a BenchSetupError saying how to install it when it is missing. */
export function wrkVersion() {
  const r = spawnSync('wrk', ['--version'], { encoding: 'utf8' });
  if (r.error?.code === 'ENOENT') {
    throw new BenchSetupError([
      'the sidecar benchmark loads the servers with wrk, which is not installed.',
      'Install it, then rerun:',
      '  Debian/Ubuntu:  sudo apt-get update && sudo apt-get install -y wrk',
      '  Fedora:         sudo dnf install wrk',
      '  macOS:          brew install wrk   (the pinning also needs Linux taskset)',
    ].join('\n'));
  }
  // `wrk --version` prints its banner and usage, and exits 1.
  return /^wrk\s+(\S+)/m.exec(`${r.stdout}${r.stderr}`)?.[1] ?? 'unknown version';
}

/** What the sidecar part needs besides Node: taskset, two usable cores, wrk. Throws BenchSetupError. */
export function sidecarTools() {
  checkPinning();
  return { wrk: wrkVersion() };
}

/**
 * @param {object} o
 * @param {string} o.url
 * @param {{prefix:string,suffix:string,entities:number,keys:number}} o.parts  bodyParts() of the case
 * @param {number} o.connections
 * @param {number} o.durationSec
 * @param {number} o.serverPid
 * @returns figures of the run; wrkCpuPct and the core figures cover the polled window (all but ~POLL_MS of the run)
 */
export function runWrk(o) {
  const seed = Math.floor(Math.random() * 2 ** 31);
  const [cmd, args] = pinned(LOAD_CORE, 'wrk', [
    '-t1', `-c${o.connections}`, `-d${o.durationSec}s`, '--timeout', '5s', '-s', SCRIPT, o.url,
    '--', o.parts.prefix, o.parts.suffix, String(o.parts.entities), String(o.parts.keys), String(seed),
  ]);
  return new Promise((resolve, reject) => {
    const serverCpu0 = cpuMsOf(o.serverPid);
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    // Samples of (time, wrk CPU, server CPU, core ticks); the first and last bound the window.
    const sample = () => ({ t: performance.now(), wrk: cpuMsOf(child.pid), server: cpuMsOf(o.serverPid), cores: coreTicks() });
    let first;
    let last;
    const timer = setInterval(() => {
      const s = sample();
      if (!Number.isFinite(s.wrk)) return; // exited between polls
      first ??= s;
      last = s;
    }, POLL_MS);
    child.on('error', (e) => {
      clearInterval(timer);
      reject(e);
    });
    child.on('close', (code) => {
      clearInterval(timer);
      const serverCpuMs = cpuMsOf(o.serverPid) - serverCpu0;
      const line = out.split('\n').find((l) => l.startsWith('WRK_JSON '));
      if (code !== 0 || !line) return reject(new Error(`wrk exited with ${code}:\n${out.slice(-2000)}`));
      const w = JSON.parse(line.slice('WRK_JSON '.length));
      const windowMs = last && first ? last.t - first.t : NaN;
      const pct = (a, b) => ((b - a) / windowMs) * 100;
      const shares = windowMs > 0
        ? { server: pct(first.server, last.server), wrk: pct(first.wrk, last.wrk), serverCore: busyPct(first.cores, last.cores, SERVER_CORE), loadCore: busyPct(first.cores, last.cores, LOAD_CORE) }
        : { server: NaN, wrk: NaN, serverCore: NaN, loadCore: NaN };
      resolve({
        requests: w.requests,
        rps: w.requests / (w.durationUs / 1e6),
        bytesPerResponse: w.requests ? w.bytes / w.requests : NaN,
        errors: w.connectErrors + w.readErrors + w.writeErrors + w.timeouts,
        non2xx: w.statusErrors,
        p50: w.p50, p99: w.p99, p999: w.p999, max: w.max,
        serverCpuUsPerRequest: (serverCpuMs * 1000) / w.requests,
        serverCpuPct: shares.server,
        wrkCpuPct: shares.wrk,
        serverCoreBusyPct: shares.serverCore,
        loadCoreBusyPct: shares.loadCore,
        // What other processes took from each core during the run.
        otherServerCorePct: Math.max(0, shares.serverCore - shares.server),
        otherLoadCorePct: Math.max(0, shares.loadCore - shares.wrk),
      });
    });
  });
}
