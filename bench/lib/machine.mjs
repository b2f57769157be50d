/** What the numbers were measured on: CPU, cores, Node, memory, load. */
import { execFileSync } from 'node:child_process';
import os from 'node:os';

export function loadAverage() {
  return os.loadavg().map((x) => x.toFixed(2)).join(', ');
}

function gitCommit(cwd) {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd, encoding: 'utf8' }).trim();
    // Results files are written by the benchmarks themselves: they do not make the code dirty.
    const dirty = execFileSync('git', ['status', '--porcelain', '--', '.', ':!bench/results'], { cwd, encoding: 'utf8' }).trim() !== '';
    return dirty ? `${head} + uncommitted changes` : head;
  } catch {
    return 'unknown';
  }
}

export function describeMachine(cwd) {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    node: process.version,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    memory: `${(os.totalmem() / 2 ** 30).toFixed(1)} GiB`,
    commit: gitCommit(cwd),
    date: new Date().toISOString(),
  };
}

/** The "Machine" section of a results file. */
export function machineSection(m, { command, loadBefore, loadAfter }) {
  return [
    '## Machine and run',
    '',
    `- Date: ${m.date}`,
    `- Command: \`${command}\``,
    `- CPU: ${m.cpu}, ${m.cores} cores (shared with other work during the run; see load)`,
    `- Node ${m.node}, ${m.os}, ${m.memory} RAM`,
    `- Code: git ${m.commit}`,
    `- Load average (1, 5, 15 min) before: ${loadBefore}; after: ${loadAfter}`,
  ].join('\n');
}
