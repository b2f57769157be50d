/**
 * Decodes and verifies a bundle. Anything that is not a complete, intact
 * bundle of a known format version is rejected with a typed LarderError
 * (magic, version, checksum or corrupt), never a crash or a partial bundle.
 */
import { LarderError } from '../errors.js';
import { ALIGN, type Block, type BundleLayout, type BundleManifest, FORMAT_VERSION, HEADER_BYTES, MAGIC, hex, sha256Hex } from './format.js';
import { unpackPlain } from './msgpack.js';
import { RECORD_HEADER_BYTES, fieldAlignment, fieldWidth } from './rows.js';

export interface DecodedBundle {
  manifest: BundleManifest;
  layout: BundleLayout;
  /** The data section, 8-byte aligned in memory. */
  data: Uint8Array;
  byteLength: number;
}

const corrupt = (msg: string) => new LarderError('LARDER_ERR_BUNDLE_CORRUPT', `bundle is corrupt: ${msg}`);

/** Reads just the header and manifest (no checksum of the values). */
export async function decodeManifest(bytes: Uint8Array): Promise<BundleManifest> {
  return (await readHead(bytes)).manifest;
}

async function readHead(bytes: Uint8Array): Promise<{ manifest: BundleManifest; manifestEnd: number }> {
  if (bytes.length < HEADER_BYTES || !MAGIC.every((b, i) => bytes[i] === b)) {
    throw new LarderError('LARDER_ERR_BUNDLE_MAGIC', 'not a larder bundle (bad magic bytes)');
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const formatVersion = dv.getUint16(8, true);
  if (formatVersion !== FORMAT_VERSION) {
    throw new LarderError('LARDER_ERR_BUNDLE_VERSION', `unsupported bundle format version ${formatVersion} (this larder reads ${FORMAT_VERSION})`);
  }
  if (dv.getUint16(10, true) !== 0) throw corrupt('reserved header bytes are not zero');
  const manifestLength = dv.getUint32(12, true);
  const manifestEnd = HEADER_BYTES + manifestLength;
  if (manifestEnd + 4 > bytes.length) throw corrupt(`truncated: manifest needs ${manifestEnd + 4} bytes, file has ${bytes.length}`);
  const manifestBytes = bytes.subarray(HEADER_BYTES, manifestEnd);
  if ((await sha256Hex(manifestBytes)) !== hex(bytes.subarray(16, 48))) {
    throw new LarderError('LARDER_ERR_BUNDLE_CHECKSUM', 'manifest checksum mismatch (the file is damaged)');
  }
  let manifest: unknown;
  try {
    manifest = unpackPlain(manifestBytes);
  } catch (e) {
    throw corrupt(`manifest is not valid msgpack (${(e as Error).message})`);
  }
  checkManifest(manifest);
  return { manifest, manifestEnd };
}

function checkManifest(m: unknown): asserts m is BundleManifest {
  const o = m as Partial<BundleManifest> | null;
  if (
    typeof o !== 'object' || o === null || o.format !== 'larder-bundle' ||
    typeof o.project !== 'string' || typeof o.version !== 'number' ||
    typeof o.contentSha256 !== 'string' || typeof o.asOf !== 'string' ||
    typeof o.repo !== 'object' || o.repo === null || !Array.isArray(o.views)
  ) {
    throw corrupt('manifest lacks required fields');
  }
}

/** A SHA-256 as lower-case hex. */
export type Sha256Hex = (bytes: Uint8Array) => Promise<string>;

/**
 * Decodes and verifies bundle bytes. `sha256` defaults to WebCrypto, which
 * works in every runtime but copies its input; Node passes its own hash,
 * which reads the bytes in place (see bundle-file.ts).
 */
export async function decodeBundle(input: Uint8Array, sha256: Sha256Hex = sha256Hex): Promise<DecodedBundle> {
  // Typed-array views need 8-byte alignment; copy once if the caller's buffer
  // is not aligned (a file read into a fresh buffer always is).
  const bytes = input.byteOffset % ALIGN === 0 ? input : input.slice();
  const { manifest, manifestEnd } = await readHead(bytes);
  const content = bytes.subarray(manifestEnd);
  if ((await sha256(content)) !== manifest.contentSha256) {
    throw new LarderError('LARDER_ERR_BUNDLE_CHECKSUM', 'content checksum mismatch (the file is damaged or truncated)');
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const layoutLength = dv.getUint32(manifestEnd, true);
  const layoutEnd = manifestEnd + 4 + layoutLength;
  if (layoutEnd > bytes.length) throw corrupt('truncated layout');
  let layout: BundleLayout;
  try {
    layout = unpackPlain(bytes.subarray(manifestEnd + 4, layoutEnd)) as BundleLayout;
  } catch (e) {
    throw corrupt(`layout is not valid msgpack (${(e as Error).message})`);
  }
  const dataStart = Math.ceil(layoutEnd / ALIGN) * ALIGN;
  const data = bytes.subarray(dataStart);
  checkLayout(layout, manifest, data.length);
  return { manifest, layout, data, byteLength: bytes.length };
}

function checkBlock(b: Block | undefined, dataLength: number, what: string, unit = 1): void {
  if (!b || !Number.isInteger(b.offset) || !Number.isInteger(b.length) || b.offset < 0 || b.length < 0 ||
      b.offset + b.length > dataLength || b.offset % ALIGN !== 0 || b.length % unit !== 0) {
    throw corrupt(`${what} points outside the data`);
  }
}

/** Checks that every block lies inside the data and sizes agree with row counts. */
function checkLayout(layout: BundleLayout, manifest: BundleManifest, dataLength: number): void {
  if (!layout || !Array.isArray(layout.views) || layout.views.length !== manifest.views.length) {
    throw corrupt('layout does not match the manifest');
  }
  for (const v of layout.views) {
    const where = `view "${v.name}"`;
    if (!Number.isInteger(v.rows) || v.rows < 0) throw corrupt(`${where}: bad row count`);
    if (!Number.isInteger(v.stride) || v.stride < RECORD_HEADER_BYTES || v.stride % 8 !== 0) throw corrupt(`${where}: bad record stride`);
    checkBlock(v.slots, dataLength, `${where} key slots`, 4);
    checkBlock(v.records, dataLength, `${where} records`, 8);
    checkBlock(v.heap, dataLength, `${where} heap`);
    const slotCount = v.slots.length / 4;
    if (slotCount <= v.rows || (slotCount & (slotCount - 1)) !== 0) throw corrupt(`${where}: bad key table size`);
    if (v.records.length !== v.rows * v.stride) throw corrupt(`${where}: records hold ${v.records.length} bytes, expected ${v.rows} x ${v.stride}`);
    if (!Array.isArray(v.fields)) throw corrupt(`${where}: no fields`);
    if (!Number.isInteger(v.nullsOffset) || v.nullsOffset < RECORD_HEADER_BYTES || v.nullsOffset + Math.ceil(v.fields.length / 8) > v.stride) {
      throw corrupt(`${where}: null bitmap outside the record`);
    }
    for (const f of v.fields) {
      const ok = f && typeof f.kind === 'string' && FIELD_KINDS.has(f.kind) && Number.isInteger(f.offset) &&
        f.offset >= RECORD_HEADER_BYTES && f.offset % fieldAlignment(f.kind) === 0 && f.offset + fieldWidth(f.kind) <= v.stride;
      if (!ok) throw corrupt(`${where}, field "${f?.name}": outside the record`);
      if (f.kind === 'dict' && !(Array.isArray(f.dictionary) && f.dictionary.length > 0 && f.dictionary.every((s) => typeof s === 'string'))) {
        throw corrupt(`${where}, field "${f.name}": bad dictionary`);
      }
    }
  }
}

const FIELD_KINDS = new Set(['f64', 'f32', 'u8', 'str', 'dict', 'f32list', 'packed']);
