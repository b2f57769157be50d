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
