/**
 * Forging bundles: a valid bundle taken apart into its manifest, layout and
 * data, and put back together with valid checksums after any change, so
 * that a change reaches the decoder's checks past the checksums (as a
 * hostile or buggy writer's bundle would). Used by the fuzzer and by tests
 * of the decoder.
 */
import { Packr } from 'msgpackr';
import { decodeBundle } from '../src/core/bundle/decode.js';
import { assembleBundle } from '../src/core/bundle/encode.js';
import type { ViewLayout } from '../src/core/bundle/format.js';

/**
 * Packs whatever a forger put in (bigints, NaN, Dates, typed arrays, holes
 * included), unlike the format's own packer, which writes plain JSON data.
 */
const packr = new Packr({ useRecords: false, moreTypes: true });

export interface BundleParts {
  /** The manifest as msgpack decodes it; change it at will. */
  manifest: Record<string, unknown>;
  layout: Record<string, unknown>;
  /** The data section (a copy). */
  data: Uint8Array;
}

/** A valid bundle's parts, deep copies that can be changed freely. */
export async function splitBundle(bytes: Uint8Array): Promise<BundleParts> {
  const decoded = await decodeBundle(bytes);
  return {
    manifest: structuredClone(decoded.manifest) as unknown as Record<string, unknown>,
    layout: structuredClone(decoded.layout) as unknown as Record<string, unknown>,
    data: decoded.data.slice(),
  };
}

export interface JoinOptions {
  /** Keep the manifest's contentSha256 as it is (a forger changed it) instead of the hash of the content. */
  keepContentSha256?: boolean;
  /** Layout bytes to write instead of the packed layout (raw msgpack changes). */
  layoutBytes?: Uint8Array;
}

/** Packs a value the way the forger packs manifests and layouts. */
export function packAny(value: unknown): Uint8Array {
  return packr.pack(value);
}

/** A bundle file of `parts`, its checksums valid. Throws when msgpack cannot pack a value put in. */
export function joinBundle(parts: BundleParts, opts: JoinOptions = {}): Promise<Uint8Array> {
  const layoutBytes = opts.layoutBytes ?? packAny(parts.layout);
  const kept = parts.manifest.contentSha256;
  const packManifest = (contentSha256: string) => {
    // A hash of another length than 64 hex digits (a forger's) is kept: the length must not change between packings.
    const keep = opts.keepContentSha256 || typeof kept !== 'string' || kept.length !== 64;
    return packAny({ ...parts.manifest, contentSha256: keep ? kept : contentSha256 });
  };
  return assembleBundle(packManifest, layoutBytes, [parts.data]);
}

/** Typed-array windows on one view's row records in `parts.data`, for changing stored values. */
export function recordsOf(parts: BundleParts, viewIndex = 0): { f64: Float64Array; u32: Uint32Array; u8: Uint8Array; stride: number; rows: number; view: ViewLayout } {
  const view = (parts.layout.views as ViewLayout[])[viewIndex]!;
  const { offset, length } = view.records;
  const buffer = parts.data.buffer;
  const at = parts.data.byteOffset + offset;
  return {
    f64: new Float64Array(buffer, at, length / 8),
    u32: new Uint32Array(buffer, at, length / 4),
    u8: new Uint8Array(buffer, at, length),
    stride: view.stride,
    rows: view.rows,
    view,
  };
}
