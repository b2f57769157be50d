/** Small statistics and formatting helpers for benchmark figures. */

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export const min = (xs) => Math.min(...xs);
export const max = (xs) => Math.max(...xs);

/** Bytes as MiB with one decimal. */
export const mib = (bytes) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

/** A number with thousands separators and `digits` decimals. */
export function num(x, digits = 0) {
  if (!Number.isFinite(x)) return String(x);
  return x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** Milliseconds shown as ms below 10 s, else seconds. */
export function duration(ms) {
  if (ms < 10_000) return `${num(ms, ms < 100 ? 2 : 0)} ms`;
  return `${num(ms / 1000, 1)} s`;
}

export const passFail = (ok) => (ok ? '**PASS**' : '**FAIL**');

/** Numbers in [0, 1) from a linear congruential generator: the same `seed`, the same sequence on every machine. */
export function seededRandom(seed) {
  let state = seed >>> 0;
  return () => (state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

/**
 * A 95% interval for the median of samples taken in groups (a two-stage
 * bootstrap: groups drawn with replacement, then samples within each drawn
 * group), so that what sets the groups apart (here: which processes ran
 * them) widens the interval as it widens the spread between whole runs.
 * Seeded, so a result file's interval is the same each time it is
 * computed from the same samples.
 */
export function medianInterval(groups, { draws = 4000, seed = 1 } = {}) {
  const random = seededRandom(seed);
  const pick = (xs) => xs[Math.floor(random() * xs.length)];
  const medians = [];
  for (let d = 0; d < draws; d++) {
    const sample = [];
    for (let g = 0; g < groups.length; g++) {
      const group = pick(groups);
      for (let i = 0; i < group.length; i++) sample.push(pick(group));
    }
    medians.push(median(sample));
  }
  medians.sort((a, b) => a - b);
  return [medians[Math.floor(0.025 * draws)], medians[Math.ceil(0.975 * draws) - 1]];
}
