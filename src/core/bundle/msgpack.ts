/**
 * The msgpack codec for bundle metadata: plain maps (no msgpackr record
 * extension) so any msgpack library can read a manifest.
 */
import { Packr } from 'msgpackr';

const packr = new Packr({ useRecords: false, mapsAsObjects: true, moreTypes: false });

/** Packs plain data; undefined fields are dropped, as JSON would drop them. */
export function packPlain(value: unknown): Uint8Array {
  return packr.pack(JSON.parse(JSON.stringify(value)));
}

export function unpackPlain(bytes: Uint8Array): unknown {
  return packr.unpack(bytes);
}
