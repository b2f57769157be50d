/** Encodes a bundle: the only writer of the format (the builder calls it). */
import { packPlain } from './msgpack.js';
import type { JoinKeyDtype } from '../dtypes.js';
import { LarderError } from '../errors.js';
import type { RepoDef } from '../repo/types.js';
import { computeStats } from '../stats.js';
import { describeTime, encodeRows } from './rows.js';
import { TIME_RANGE_TEXT, isStorableTime } from '../time.js';
import { buildSlots } from './key-index.js';
import {
  ALIGN,
  type Block,
  type BundleLayout,
  type BundleManifest,
  FORMAT_VERSION,
  HEADER_BYTES,
  MAGIC,
  type ViewLayout,
  type ViewManifest,
  sha256Hex,
} from './format.js';

/** One online view's snapshot: row i of every array belongs to keys[i]. */
export interface ViewSnapshot {
  name: string;
  joinKeys: { name: string; dtype: JoinKeyDtype }[];
  /** Canonical entity key strings (see keys.ts), unique. */
  keys: readonly string[];
  /** Event time of each row's value, epoch milliseconds. */
  eventTsMs: ArrayLike<number>;
  /** Created time of each row's value, epoch ms (null: none); omitted when the source has no created time. */
  createdTsMs?: ArrayLike<number | null>;
  /** Feature name -> one value per row (null for null; timestamps as epoch ms). */
  columns: Record<string, ArrayLike<unknown>>;
}

export interface BundleInput {
  project: string;
  version: number;
  parentVersion: number | null;
  createdAt: Date;
  asOf: Date;
  repo: RepoDef;
  views: ViewSnapshot[];
  warnings?: string[];
}

/** Collects aligned data blocks and records where each one lands. */
class DataWriter {
  readonly chunks: Uint8Array[] = [];
  length = 0;
  add(bytes: Uint8Array): Block {
    const block = { offset: this.length, length: bytes.length };
    this.chunks.push(bytes);
    this.length += bytes.length;
    const pad = (ALIGN - (this.length % ALIGN)) % ALIGN;
    if (pad) {
      this.chunks.push(new Uint8Array(pad));
      this.length += pad;
    }
    return block;
  }
}

/** Every row's time must be one larder stores (null allowed for created times): the decoder rejects any other. */
function checkTimes(view: string, what: string, keys: readonly string[], times: ArrayLike<number | null>, nullable: boolean): void {
  for (let row = 0; row < times.length; row++) {
    const t = times[row];
    if (nullable && (t === null || t === undefined || Number.isNaN(t))) continue;
    if (typeof t !== 'number' || !isStorableTime(t)) {
      throw new LarderError('LARDER_ERR_SOURCE', `feature view "${view}", key ${JSON.stringify(keys[row])}: ${what} ${describeTime(t)} is not a time larder stores (whole milliseconds from ${TIME_RANGE_TEXT})`);
    }
  }
}

const bytesOf = (a: ArrayBufferView): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

export async function encodeBundle(input: BundleInput): Promise<Uint8Array> {
  const data = new DataWriter();
  const layout: BundleLayout = { views: [] };
  const viewManifests: ViewManifest[] = [];

  for (const snap of input.views) {
    const def = input.repo.featureViews.find((v) => v.name === snap.name);
    if (!def) throw new LarderError('LARDER_ERR_ARGUMENT', `encodeBundle: view "${snap.name}" is not defined in the repo`);
    const rows = snap.keys.length;
    if (snap.eventTsMs.length !== rows) throw new LarderError('LARDER_ERR_ARGUMENT', `encodeBundle: view "${snap.name}": eventTsMs has ${snap.eventTsMs.length} rows, keys ${rows}`);
    if (snap.createdTsMs && snap.createdTsMs.length !== rows) throw new LarderError('LARDER_ERR_ARGUMENT', `encodeBundle: view "${snap.name}": createdTsMs has ${snap.createdTsMs.length} rows, keys ${rows}`);
    checkTimes(snap.name, 'event time', snap.keys, snap.eventTsMs, false);
    if (snap.createdTsMs) checkTimes(snap.name, 'created time', snap.keys, snap.createdTsMs, true);
    const columns = def.features.map((f) => {
      const values = snap.columns[f.name];
      if (!values || values.length !== rows) {
        throw new LarderError('LARDER_ERR_ARGUMENT', `encodeBundle: view "${snap.name}", feature "${f.name}": expected ${rows} values, got ${values?.length ?? 'none'}`);
      }
      return values;
    });
    let encoded: ReturnType<typeof encodeRows>;
    try {
      encoded = encodeRows(def.features, snap.keys, snap.eventTsMs, snap.createdTsMs, columns);
    } catch (e) {
      if (e instanceof LarderError && e.code === 'LARDER_ERR_VALUE') throw new LarderError(e.code, `feature view "${snap.name}", ${e.message}`, { cause: e });
      throw e;
    }
    const viewLayout: ViewLayout = {
      name: snap.name,
      rows,
      stride: encoded.stride,
      nullsOffset: encoded.nullsOffset,
      fields: encoded.fields,
      slots: data.add(bytesOf(buildSlots(snap.keys))),
      records: data.add(encoded.records),
      heap: data.add(encoded.heap),
    };
    const stats: ViewManifest['features'] = {};
    def.features.forEach((f, i) => (stats[f.name] = computeStats(f.dtype, columns[i]!)));
    layout.views.push(viewLayout);
    viewManifests.push({ name: snap.name, keyCount: rows, joinKeys: snap.joinKeys, features: stats });
  }

  const manifest: BundleManifest = {
    format: 'larder-bundle',
    formatVersion: FORMAT_VERSION,
    project: input.project,
    version: input.version,
    parentVersion: input.parentVersion,
    createdAt: input.createdAt.toISOString(),
    asOf: input.asOf.toISOString(),
    contentSha256: '',
    repo: input.repo,
    views: viewManifests,
    warnings: input.warnings ?? [],
  };
  return assembleBundle((contentSha256) => packPlain({ ...manifest, contentSha256 }), packPlain(layout), data.chunks);
}

/**
 * Lays a bundle file out from its parts: header, manifest, layout length,
 * layout, padding, data. `packManifest` packs the manifest holding the
 * given content hash (of everything after the manifest); a hex hash has a
 * fixed length, so the packed length must not depend on its value.
 * encodeBundle is the ordinary caller; the fuzzer (fuzz/) forges bundles
 * with it from manifests and layouts no encoder would write.
 */
export async function assembleBundle(
  packManifest: (contentSha256: string) => Uint8Array,
  layoutBytes: Uint8Array,
  dataChunks: readonly Uint8Array[],
): Promise<Uint8Array> {
  // The data start must be 8-aligned from the file start, which depends on
  // the manifest length: pack once with a placeholder hash to learn it.
  const manifestLength = packManifest('0'.repeat(64)).length;
  const beforePad = HEADER_BYTES + manifestLength + 4 + layoutBytes.length;
  const pad = (ALIGN - (beforePad % ALIGN)) % ALIGN;
  let dataLength = 0;
  for (const chunk of dataChunks) dataLength += chunk.length;
  // Everything after the manifest: layout length, layout, padding, data.
  const body = new Uint8Array(4 + layoutBytes.length + pad + dataLength);
  new DataView(body.buffer).setUint32(0, layoutBytes.length, true);
  body.set(layoutBytes, 4);
  let at = 4 + layoutBytes.length + pad;
  for (const chunk of dataChunks) {
    body.set(chunk, at);
    at += chunk.length;
  }
  const manifestBytes = packManifest(await sha256Hex(body));
  if (manifestBytes.length !== manifestLength) throw new LarderError('LARDER_ERR_INTERNAL', 'assembleBundle: manifest length changed while hashing');

  const out = new Uint8Array(HEADER_BYTES + manifestBytes.length + body.length);
  out.set(MAGIC, 0);
  const dv = new DataView(out.buffer);
  dv.setUint16(8, FORMAT_VERSION, true);
  dv.setUint32(12, manifestBytes.length, true);
  out.set(hexToBytes(await sha256Hex(manifestBytes)), 16);
  out.set(manifestBytes, HEADER_BYTES);
  out.set(body, HEADER_BYTES + manifestBytes.length);
  return out;
}

function hexToBytes(h: string): Uint8Array {
  const out = new Uint8Array(h.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(h.slice(i * 2, i * 2 + 2), 16);
  return out;
}
