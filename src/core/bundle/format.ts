/**
 * The bundle file format, version 3.
 *
 *   offset  size  field
 *   0       8     magic "LARDERB\n"
 *   8       2     format version, u16 little-endian (2)
 *   10      2     reserved, 0
 *   12      4     manifest length in bytes, u32 LE
 *   16      32    SHA-256 of the manifest bytes
 *   48      M     manifest, msgpack (BundleManifest)
 *   48+M    4     layout length L, u32 LE
 *   52+M    L     layout, msgpack (BundleLayout): where each column lives
 *   ...     pad   zeros up to a multiple of 8 from the file start
 *   D       ...   data: raw little-endian column blocks, each 8-byte aligned
 *
 * `manifest.contentSha256` is the SHA-256 of everything after the manifest
 * (layout length, layout, padding and data), so the header hash covers the
 * manifest and the manifest's hash covers the values: every byte is checked.
 * Column blocks are raw typed-array bytes so that opening a bundle maps them
 * as typed-array views instead of creating one JS object per value.
 */
import type { JoinKeyDtype } from '../dtypes.js';
import type { RepoDef } from '../repo/types.js';
import type { FeatureStats } from '../stats.js';

export const MAGIC = new Uint8Array([0x4c, 0x41, 0x52, 0x44, 0x45, 0x52, 0x42, 0x0a]); // "LARDERB\n"
/**
 * 2: string columns with few distinct values are stored as dictionary
 * indexes; short keys inline in the record. 3: each record holds its row's
 * created time, so rows from different tiers merge by the whole as-of rule.
 */
export const FORMAT_VERSION = 3;
export const HEADER_BYTES = 48;
export const ALIGN = 8;

export interface ViewManifest {
  name: string;
  keyCount: number;
  /** Join keys in key order, with the dtype read from the source. */
  joinKeys: { name: string; dtype: JoinKeyDtype }[];
  features: Record<string, FeatureStats>;
}

export interface BundleManifest {
  format: 'larder-bundle';
  formatVersion: number;
  project: string;
  version: number;
  parentVersion: number | null;
  /** ISO-8601. */
  createdAt: string;
  /** The time the snapshot was taken at (ISO-8601). */
  asOf: string;
  /** Hex SHA-256 of the layout and data (everything after the manifest). */
  contentSha256: string;
  repo: RepoDef;
  /** One entry per online view held in the bundle. */
  views: ViewManifest[];
  warnings: string[];
}

/** A byte range of the data section: offset relative to the data start. */
export interface Block {
  offset: number;
  length: number;
}

/**
 * How a feature's value is stored in the row record: fixed-width kinds hold
 * the value; variable-width kinds hold (heap offset u32, byte length u32)
 * pointing into the view's heap; 'dict' holds a u32 index into the field's
 * dictionary (strings with few distinct values: a read is one array access,
 * with no heap bytes to fetch and no string to build).
 */
export type FieldKind = 'f64' | 'f32' | 'u8' | 'str' | 'dict' | 'f32list' | 'packed';

export interface FieldLayout {
  name: string;
  kind: FieldKind;
  /** Byte offset of the field inside the row record. */
  offset: number;
  /** The distinct values of a 'dict' field, in index order. */
  dictionary?: string[];
}

/**
 * One view's data, row-major: a lookup reads one key's record and its heap
 * bytes, a few cache lines, instead of touching one column array per feature.
 *
 * Row record (`stride` bytes, a multiple of 8):
 *   0   f64  event time, epoch ms
 *   8   u32  heap offset of the key's UTF-8 bytes
 *   12  u32  key byte length
 *   16  8    the key's bytes again when it has at most 8 (zeros after
 *            them), so matching a short key reads no heap: one memory
 *            access less per lookup
 *   24  f64  created time, epoch ms; NaN when the source has none
 *   32  ...  fields at their `offset` (f64 fields first, then 4-byte, then 1-byte)
 *   nullsOffset: null bitmap, one bit per feature (set = null)
 *
 * Every time (event, created, `timestamp` values) is a whole epoch
 * millisecond from MIN_TIME_MS to MAX_TIME_MS (time.ts); the decoder rejects
 * a bundle holding any other (record-checks.ts).
 */
export interface ViewLayout {
  name: string;
  rows: number;
  stride: number;
  nullsOffset: number;
  fields: FieldLayout[];
  /** Open-addressing hash table: Int32 slots holding row + 1, 0 = empty. */
  slots: Block;
  /** rows * stride bytes of row records. */
  records: Block;
  /** Keys and variable-width values, each row's bytes together. */
  heap: Block;
}

export interface BundleLayout {
  views: ViewLayout[];
}

/** The conventional file name for a bundle version. */
export function bundleFileName(project: string, version: number): string {
  return `${project}-v${version}.larder`;
}

/** Parses a bundle file name back; undefined when it is not one. */
export function parseBundleFileName(name: string): { project: string; version: number } | undefined {
  const m = /^(.+)-v(\d+)\.larder$/.exec(name);
  return m ? { project: m[1]!, version: Number(m[2]) } : undefined;
}

export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>);
  return hex(new Uint8Array(digest));
}

export function hex(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += bytes[i]!.toString(16).padStart(2, '0');
  return s;
}
