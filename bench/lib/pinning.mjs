/**
 * One core for the server under test, another for the load generator, so
 * that requests/s measure the server per core and never the load generator
 * (on 2 cores a Node load generator in the bench process saturates its core
 * before a bare node:http server does). Linux only: `taskset` and /proc.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { cpuMsOf } from './proc-cpu.mjs';

export const SERVER_CORE = 0;
export const LOAD_CORE = 1;

/**
 * A run is disturbed when other processes took more than this share of the
 * server's or the load generator's core during it (the run's
 * otherServerCorePct / otherLoadCorePct).
 */
export const DISTURBED_PCT = 15;
export const disturbance = (run) => Math.max(run.otherServerCorePct, run.otherLoadCorePct);
export const isDisturbed = (run) => disturbance(run) > DISTURBED_PCT;

/** A missing tool or an unsuitable machine: run.mjs prints the message alone and exits 1. */
export class BenchSetupError extends Error {}

/** `command args` run by taskset on `core`: taskset execs it, so the child's pid is the command's. */
export const pinned = (core, command, args) => ['taskset', ['-c', String(core), command, ...args]];

/** Moves a running process, every thread of it, onto `core`. */
export function pinProcess(pid, core) {
  const r = spawnSync('taskset', ['-a', '-pc', String(core), String(pid)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`taskset -a -pc ${core} ${pid}: ${r.stderr || r.error?.message}`);
}

/** The cores this process may run on, from `taskset -pc` (cgroups and affinity both count). */
function usableCores() {
  const r = spawnSync('taskset', ['-pc', String(process.pid)], { encoding: 'utf8' });
  if (r.error?.code === 'ENOENT') throw new BenchSetupError('the sidecar benchmark pins processes to cores with `taskset` (package util-linux), which is not installed.');
  const list = /list:\s*([\d,-]+)/.exec(r.stdout ?? '')?.[1] ?? '';
  const cores = new Set();
  for (const part of list.split(',')) {
    const [a, b = a] = part.split('-').map(Number);
    for (let c = a; c <= b; c++) cores.add(c);
  }
  return cores;
}

/** Throws a BenchSetupError unless the server's and the load generator's cores are both usable. */
export function checkPinning() {
  const cores = usableCores();
  for (const c of [SERVER_CORE, LOAD_CORE]) {
    if (!cores.has(c)) throw new BenchSetupError(`the sidecar benchmark needs cores ${SERVER_CORE} and ${LOAD_CORE} (server and load generator); this process may use only ${[...cores].join(',') || 'none'}.`);
  }
}

/**
 * Busy and total clock ticks of each core since boot, from /proc/stat
 * (busy: user, nice, system, irq, softirq, steal; total adds idle and iowait).
 */
export function coreTicks() {
  const out = [];
  for (const line of readFileSync('/proc/stat', 'utf8').split('\n')) {
    const m = /^cpu(\d+)\s+(.*)$/.exec(line);
    if (!m) continue;
    const [user, nice, system, idle, iowait, irq, softirq, steal] = m[2].split(/\s+/).map(Number);
    const busy = user + nice + system + irq + softirq + steal;
    out[Number(m[1])] = { busy, total: busy + idle + iowait };
  }
  return out;
}

/** Percent busy of core `c` between two coreTicks() readings. */
export function busyPct(before, after, c) {
  const total = after[c].total - before[c].total;
  return total > 0 ? ((after[c].busy - before[c].busy) / total) * 100 : NaN;
}

/**
 * Waits, up to `maxWaitMs`, for a moment when other work leaves both cores
 * mostly idle (each under `busyBelowPct` over a 500 ms window), so that a
 * measured run does not start in the middle of someone else's burst on this
 * shared machine. Resolves with the last window's busy shares and how long
 * it waited; a run that starts anyway is still marked by its own figures.
 */
export async function waitForQuiet({ maxWaitMs, busyBelowPct = 25 }) {
  const t0 = performance.now();
  for (;;) {
    const before = coreTicks();
    await sleep(500);
    const after = coreTicks();
    const busy = [SERVER_CORE, LOAD_CORE].map((c) => busyPct(before, after, c));
    const waitedMs = performance.now() - t0;
    if (busy.every((b) => b < busyBelowPct) || waitedMs >= maxWaitMs) return { busy, waitedMs, quiet: busy.every((b) => b < busyBelowPct) };
  }
}

/**
 * Runs `run` and adds each core's busy share over it, and the share of a
 * core the server (`serverPid`) used: what other processes took from the
 * two cores is then the busy share minus the server's (core SERVER_CORE)
 * or the load generator's (core LOAD_CORE).
 */
export async function withCoreShares(serverPid, run) {
  const ticks0 = coreTicks();
  const server0 = cpuMsOf(serverPid);
  const t0 = performance.now();
  const result = await run();
  const ms = performance.now() - t0;
  const ticks1 = coreTicks();
  return {
    ...result,
    serverCoreBusyPct: busyPct(ticks0, ticks1, SERVER_CORE),
    loadCoreBusyPct: busyPct(ticks0, ticks1, LOAD_CORE),
    serverCpuPctOfRun: ((cpuMsOf(serverPid) - server0) / ms) * 100,
  };
}
