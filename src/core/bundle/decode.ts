/**
 * Decodes and verifies a bundle. Anything that is not a complete, intact
 * bundle of a known format version is rejected with a typed LarderError
 * (magic, version, checksum or corrupt), never a crash or a partial bundle.
 */
import { LarderError } from '../errors.js';
import { ALIGN, type Block, type BundleLayout, type BundleManifest, FORMAT_VERSION, HEADER_BYTES, MAGIC, hex, sha256Hex } from './format.js';
import { unpackPlain } from './msgpack.js';
import { checkRecords } from './record-checks.js';
import { checkLayoutShape, checkManifest } from './schema.js';
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

/**
 * Checks the fixed header (the first HEADER_BYTES bytes: magic, format
 * version, reserved bytes, manifest length) against the length of the
 * whole file, and returns where the manifest ends. It needs only `head`,
 * so a file can be refused before the rest of it is read.
 */
export function checkHeader(head: Uint8Array, fileLength: number): number {
  if (head.length < HEADER_BYTES || fileLength < HEADER_BYTES || !MAGIC.every((b, i) => head[i] === b)) {
    throw new LarderError('LARDER_ERR_BUNDLE_MAGIC', 'not a larder bundle (bad magic bytes)');
  }
  const dv = new DataView(head.buffer, head.byteOffset, HEADER_BYTES);
  const formatVersion = dv.getUint16(8, true);
  if (formatVersion !== FORMAT_VERSION) {
    throw new LarderError('LARDER_ERR_BUNDLE_VERSION', `unsupported bundle format version ${formatVersion} (this larder reads ${FORMAT_VERSION})`);
  }
  if (dv.getUint16(10, true) !== 0) throw corrupt('reserved header bytes are not zero');
  const manifestEnd = HEADER_BYTES + dv.getUint32(12, true);
  if (manifestEnd + 4 > fileLength) throw corrupt(`truncated: the header declares a manifest needing ${manifestEnd + 4} bytes, the file has ${fileLength}`);
  return manifestEnd;
}

/**
 * Where the layout ends, from its length (the 4 bytes at `manifestEnd`,
 * which `bytes` must hold), checked against the length of the whole file.
 */
export function layoutEndOf(bytes: Uint8Array, manifestEnd: number, fileLength: number): number {
  const layoutEnd = manifestEnd + 4 + new DataView(bytes.buffer, bytes.byteOffset + manifestEnd, 4).getUint32(0, true);
  if (layoutEnd > fileLength) throw corrupt(`truncated: the layout needs ${layoutEnd} bytes, the file has ${fileLength}`);
  return layoutEnd;
}

async function readHead(bytes: Uint8Array): Promise<{ manifest: BundleManifest; manifestEnd: number }> {
  const manifestEnd = checkHeader(bytes, bytes.length);
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
  const layoutEnd = layoutEndOf(bytes, manifestEnd, bytes.length);
  let layout: unknown;
  try {
    layout = unpackPlain(bytes.subarray(manifestEnd + 4, layoutEnd));
  } catch (e) {
    throw corrupt(`layout is not valid msgpack (${(e as Error).message})`);
  }
  checkLayoutShape(layout, manifest);
  const dataStart = Math.ceil(layoutEnd / ALIGN) * ALIGN;
  if (dataStart > bytes.length) throw corrupt('truncated: no room for the data after the layout');
  const data = bytes.subarray(dataStart);
  checkLayout(layout, data.length);
  checkRecords(manifest, layout, data);
  return { manifest, layout, data, byteLength: bytes.length };
}

function checkBlock(b: Block, dataLength: number, what: string, unit = 1): void {
  if (b.offset + b.length > dataLength || b.offset % ALIGN !== 0 || b.length % unit !== 0) {
    throw corrupt(`${what} points outside the data`);
  }
}

/** Checks (on a layout of the right shape) that every block lies inside the data and sizes agree with row counts. */
function checkLayout(layout: BundleLayout, dataLength: number): void {
  for (const v of layout.views) {
    const where = `view "${v.name}"`;
    if (v.stride < RECORD_HEADER_BYTES || v.stride % 8 !== 0) throw corrupt(`${where}: bad record stride`);
    checkBlock(v.slots, dataLength, `${where} key slots`, 4);
    checkBlock(v.records, dataLength, `${where} records`, 8);
    checkBlock(v.heap, dataLength, `${where} heap`);
    const slotCount = v.slots.length / 4;
    if (slotCount <= v.rows || (slotCount & (slotCount - 1)) !== 0) throw corrupt(`${where}: bad key table size`);
    if (v.records.length !== v.rows * v.stride) throw corrupt(`${where}: records hold ${v.records.length} bytes, expected ${v.rows} x ${v.stride}`);
    if (v.nullsOffset < RECORD_HEADER_BYTES || v.nullsOffset + Math.ceil(v.fields.length / 8) > v.stride) {
      throw corrupt(`${where}: null bitmap outside the record`);
    }
    for (const f of v.fields) {
      if (f.offset < RECORD_HEADER_BYTES || f.offset % fieldAlignment(f.kind) !== 0 || f.offset + fieldWidth(f.kind) > v.stride) {
        throw corrupt(`${where}, field "${f.name}": outside the record`);
      }
      if (f.kind === 'dict' && !(f.dictionary && f.dictionary.length > 0)) throw corrupt(`${where}, field "${f.name}": bad dictionary`);
    }
  }
}
