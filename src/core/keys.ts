/**
 * Entity keys. A key of one or more join-key values becomes one canonical
 * string, used by the bundle's index, the LRU and (later) Redis alike.
 */
import type { JoinKeyDtype } from './dtypes.js';

/** Separates the parts of a composite key; join-key values never hold it. */
export const KEY_SEPARATOR = '\u001f';

/** One join-key value as the key string writes it. */
export function keyPart(v: string | number | bigint): string {
  return typeof v === 'string' ? v : String(v);
}

/** The canonical string for a (possibly composite) entity key. */
export function entityKeyString(parts: readonly (string | number | bigint)[]): string {
  if (parts.length === 1) return keyPart(parts[0]!);
  let s = keyPart(parts[0]!);
  for (let i = 1; i < parts.length; i++) s += KEY_SEPARATOR + keyPart(parts[i]!);
  return s;
}

/**
 * Whether a JSON value is a valid join-key value of `dtype`. Integers must be
 * safe integers; strings must not contain the separator.
 */
export function isJoinKeyValue(dtype: JoinKeyDtype, v: unknown): boolean {
  if (dtype === 'int64') return typeof v === 'number' && Number.isSafeInteger(v);
  return typeof v === 'string' && !v.includes(KEY_SEPARATOR);
}

/** 32-bit FNV-1a over UTF-16 code units: cheap, and the same everywhere. */
export function hashKey(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
