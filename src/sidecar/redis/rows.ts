/**
 * Reading and writing row values in Redis (keys.ts names them, row-value.ts
 * encodes them).
 *
 * Writes keep the newest row by the as-of rule: a Lua script compares the
 * event time (bytes 0-7 of a value, f64 LE) and then the created time
 * (bytes 24-31, NaN for none, which ranks lowest) of the stored row with the
 * new one and writes only when the new one is not older; an equal row is
 * replaced (a later write is a later source position). So materialize never
 * overwrites a newer pushed row with an older snapshot row, and a late push
 * never hides a newer one, whatever order writers run in.
 *
 * A writer may first try MSETNX for a call's keys (RowWriter's
 * `absentFirst`): it stores them all only when Redis holds none of them,
 * so it can never hide a stored row, and it costs Redis about half what the
 * script does. When any key is present it stores nothing, and the script
 * writes the call instead.
 */
import { createHash } from 'node:crypto';
import type { PackedRowValues } from '../../core/bundle/row-value.js';
import type { RedisClient } from './connection.js';
import { type ViewKeys, byBucket } from './keys.js';
import { PreparedCommand, RespBuilder } from './resp.js';

/** Keys per script call or MGET: bounded so one call never blocks Redis for long. */
export const MAX_KEYS_PER_CALL = 512;

// KEYS: the row keys, each once. ARGV[1]: ttl ms (0: none); ARGV[i + 1]:
// the value of KEYS[i]. Redis's cost is per command the script calls, so
// it calls few: one MGET reads every stored row, the times are compared
// only where a row is stored, and one MSET writes every row that wins
// (with a ttl, one SET PX per row, as MSET sets none). A script runs
// atomically, so nothing writes between the MGET and the MSET. Lua's
// unpack takes at most ~8,000 values: MAX_KEYS_PER_CALL stays far below
// (MSET takes two per key). Every value is at least the 32-byte record
// header (row-value.ts).
const PUT_NEWEST = `
local ttl = tonumber(ARGV[1])
local old = redis.call('MGET', unpack(KEYS))
local put = {}
local n = 0
for i = 1, #KEYS do
  local new = ARGV[i + 1]
  local newer = true
  local o = old[i]
  if o and #o >= 32 then
    local oe = struct.unpack('<d', o, 1)
    local ne = struct.unpack('<d', new, 1)
    if ne < oe then
      newer = false
    elseif ne == oe then
      local oc = struct.unpack('<d', o, 25)
      local nc = struct.unpack('<d', new, 25)
      if nc ~= nc then
        newer = (oc ~= oc)
      elseif oc == oc and nc < oc then
        newer = false
      end
    end
  end
  if newer then
    put[n + 1] = KEYS[i]
    put[n + 2] = new
    n = n + 2
  end
end
if n > 0 then
  if ttl > 0 then
    for j = 1, n, 2 do redis.call('SET', put[j], put[j + 1], 'PX', ttl) end
  else
    redis.call('MSET', unpack(put))
  end
end
return n / 2
`;

const PUT_NEWEST_SHA1 = createHash('sha1').update(PUT_NEWEST).digest('hex');

/** The same bytes as a Buffer, without a copy. */
export const asBuffer = (u8: Uint8Array): Buffer => (Buffer.isBuffer(u8) ? u8 : Buffer.from(u8.buffer, u8.byteOffset, u8.byteLength));

export interface WriteResult {
  /** Rows stored. */
  written: number;
  /** Rows not stored because Redis held a newer row for the key. */
  kept: number;
}

export interface RowWriterOptions {
  /** Let each written key expire after this many ms (0: never). */
  ttlMs?: number;
  /**
   * Try MSETNX before the script (only without a ttl: MSETNX sets none).
   * For writers whose keys are mostly absent, such as a first materialize.
   * Once a call finds a key present, the next ABSENT_PAUSE_CALLS calls go
   * by script alone; then one call tries MSETNX again (the others meanwhile
   * by script), and MSETNX is used again if it stored.
   */
  absentFirst?: boolean;
}

/** Calls sent by script alone after MSETNX found a key present. */
export const ABSENT_PAUSE_CALLS = 64;

/**
 * Writes the rows of one view, newest wins. On a cluster the rows of a
 * write are grouped by bucket (one slot each); each call carries at most
 * MAX_KEYS_PER_CALL keys, and the calls of a write go out together (the
 * client pipelines them per node).
 */
export class RowWriter {
  private readonly ttlMs: number;
  private readonly absentFirst: boolean;
  /** With absentFirst, how calls go: MSETNX first, script alone (`pause` more calls), or script while one MSETNX probe is out. */
  private mode: 'absent' | 'script' | 'probing' = 'absent';
  private pause = 0;
  private readonly prefixBytes = new Map<string, Buffer>();

  constructor(private readonly client: RedisClient, private readonly keys: ViewKeys, opts: RowWriterOptions = {}) {
    this.ttlMs = opts.ttlMs ?? 0;
    this.absentFirst = opts.absentFirst === true && this.ttlMs === 0;
  }

  /**
   * Writes row r of `values` under entity key `entityKeys[r]`; rejects when
   * Redis does. A key given more than once is written in turns, first
   * occurrences first, so the newest of its rows wins.
   */
  async write(entityKeys: readonly string[], values: PackedRowValues): Promise<WriteResult> {
    let written = 0;
    for (const rows of turns(entityKeys)) {
      const calls: Promise<number>[] = [];
      const groups = this.client.isCluster ? byBucket(this.keys, entityKeys, rows) : [rows ?? rangeOf(entityKeys.length)];
      for (const group of groups) {
        for (let start = 0; start < group.length; start += MAX_KEYS_PER_CALL) calls.push(this.call(entityKeys, values, group.slice(start, start + MAX_KEYS_PER_CALL)));
      }
      for (const n of await Promise.all(calls)) written += n;
    }
    return { written, kept: entityKeys.length - written };
  }

  /** One call: rows `rows` (distinct keys, one slot); resolves with the rows stored. */
  private async call(entityKeys: readonly string[], values: PackedRowValues, rows: readonly number[]): Promise<number> {
    if (!this.absentFirst || this.mode === 'probing' || (this.mode === 'script' && --this.pause > 0)) return this.script(entityKeys, values, rows);
    // 'absent', or the call that ends a pause: it probes, and calls meanwhile go by script.
    const probe = this.mode === 'script';
    if (probe) this.mode = 'probing';
    const resp = new RespBuilder(this.sizeOf(entityKeys, values, rows)).array(1 + 2 * rows.length).string('MSETNX');
    for (const r of rows) {
      const k = entityKeys[r]!;
      resp.prefixed(this.prefixOf(k), k).bytes(values.bytes, values.offsets[r]!, values.offsets[r + 1]!);
    }
    let stored: number;
    try {
      stored = await this.send('msetnx', [this.keys.key(entityKeys[rows[0]!]!)], resp.done());
    } catch (e) {
      this.pauseAbsent();
      throw e;
    }
    if (stored === 1) {
      // Only the probe ends a pause: a call sent before a key was found present proves nothing since.
      if (probe && this.mode === 'probing') this.mode = 'absent';
      return rows.length;
    }
    this.pauseAbsent();
    return this.script(entityKeys, values, rows);
  }

  private pauseAbsent(): void {
    this.mode = 'script';
    this.pause = ABSENT_PAUSE_CALLS + 1;
  }

  /** The script over `rows`: EVALSHA, or EVAL when Redis does not hold the script yet (NOSCRIPT). */
  private async script(entityKeys: readonly string[], values: PackedRowValues, rows: readonly number[]): Promise<number> {
    const framed = (name: 'EVALSHA' | 'EVAL', script: string): Buffer => {
      const resp = new RespBuilder(script.length + this.sizeOf(entityKeys, values, rows)).array(4 + 2 * rows.length).string(name).string(script).string(String(rows.length));
      for (const r of rows) resp.prefixed(this.prefixOf(entityKeys[r]!), entityKeys[r]!);
      resp.string(String(this.ttlMs));
      for (const r of rows) resp.bytes(values.bytes, values.offsets[r]!, values.offsets[r + 1]!);
      return resp.done();
    };
    // The first key routes the call (see resp.ts); the bytes carry every key.
    const route = [PUT_NEWEST_SHA1, 1, this.keys.key(entityKeys[rows[0]!]!)];
    try {
      return await this.send('evalsha', route, framed('EVALSHA', PUT_NEWEST_SHA1));
    } catch (e) {
      if (!String((e as Error).message).startsWith('NOSCRIPT')) throw e;
      return this.send('eval', route, framed('EVAL', PUT_NEWEST));
    }
  }

  /** The UTF-8 bytes of the key prefix of `entityKey` (a view has KEY_BUCKETS prefixes). */
  private prefixOf(entityKey: string): Buffer {
    const prefix = this.keys.prefix(entityKey);
    let bytes = this.prefixBytes.get(prefix);
    if (!bytes) this.prefixBytes.set(prefix, (bytes = Buffer.from(prefix)));
    return bytes;
  }

  private send(name: string, routeArgs: (string | number)[], bytes: Buffer): Promise<number> {
    return this.client.sendCommand(new PreparedCommand(name, routeArgs, bytes)) as Promise<number>;
  }

  /** Bytes the keys and values of `rows` take, about, framed. */
  private sizeOf(entityKeys: readonly string[], { offsets }: PackedRowValues, rows: readonly number[]): number {
    let size = 64;
    for (const r of rows) size += offsets[r + 1]! - offsets[r]! + entityKeys[r]!.length + 96;
    return size;
  }
}

/**
 * Writes row r of `values` under entity key `entityKeys[r]` of a view,
 * newest wins, by script alone; `ttlMs` > 0 lets each key expire.
 */
export function writeRows(client: RedisClient, keys: ViewKeys, entityKeys: readonly string[], values: PackedRowValues, ttlMs = 0): Promise<WriteResult> {
  return new RowWriter(client, keys, { ttlMs }).write(entityKeys, values);
}

function rangeOf(n: number): number[] {
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) out[i] = i;
  return out;
}

/**
 * The rows of a write in turns in which no key occurs twice: a key's k-th
 * occurrence goes in turn k. One turn of every row (undefined) when the
 * keys are distinct, as a snapshot's are.
 */
function turns(entityKeys: readonly string[]): (number[] | undefined)[] {
  const seen = new Set<string>(entityKeys);
  if (seen.size === entityKeys.length) return [undefined];
  const count = new Map<string, number>();
  const out: number[][] = [];
  entityKeys.forEach((k, r) => {
    const turn = count.get(k) ?? 0;
    count.set(k, turn + 1);
    (out[turn] ??= []).push(r);
  });
  return out;
}

/**
 * One MGET of a read: `positions` index the keys read (undefined: all of
 * them, in order), `values` answers them (null: Redis holds none).
 */
export interface ReadGroup {
  positions: number[] | undefined;
  values: Promise<(Buffer | null)[]>;
}

/**
 * Reads the values of `entityKeys[i]` for i in `indexes`, whose Redis keys
 * (ViewKeys.key, made once by the caller) are `redisKeys[p]` for
 * `indexes[p]`: one MGET on a standalone Redis, one per bucket on a
 * cluster (all of a bucket's keys share a slot). Each group settles on its
 * own, so one unreachable master costs only its own keys. `positions`
 * index into `indexes`.
 */
export function readRowGroups(client: RedisClient, keys: ViewKeys, entityKeys: readonly string[], indexes: readonly number[], redisKeys: readonly string[]): ReadGroup[] {
  const mget = (positions: number[] | undefined): ReadGroup => {
    let values: Promise<(Buffer | null)[]>;
    try {
      values = client.mgetBuffer(positions === undefined ? (redisKeys as string[]) : positions.map((p) => redisKeys[p]!));
    } catch (e) {
      values = Promise.reject(e);
    }
    return { positions, values };
  };
  if (!client.isCluster && indexes.length <= MAX_KEYS_PER_CALL) return [mget(undefined)];
  const positions = indexes.map((_, p) => p);
  const groups: ReadGroup[] = [];
  const bucketed = client.isCluster ? byBucket(keys, indexes.map((i) => entityKeys[i]!), positions) : [positions];
  for (const group of bucketed) {
    for (let start = 0; start < group.length; start += MAX_KEYS_PER_CALL) groups.push(mget(group.slice(start, start + MAX_KEYS_PER_CALL)));
  }
  return groups;
}
