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
 */
import type { RedisClient } from './connection.js';
import { type ViewKeys, byBucket } from './keys.js';

/** Keys per script call or MGET: bounded so one call never blocks Redis for long. */
export const MAX_KEYS_PER_CALL = 512;

// KEYS: the row keys. ARGV[1]: ttl ms (0: none); ARGV[2]: the values, end
// to end; ARGV[3]: their byte lengths, u32 LE each. (Two arguments instead
// of one per value: the client's cost per argument was most of a write.)
// A key Redis does not hold is set at once (SET NX); otherwise the stored
// row's times are compared first.
const PUT_NEWEST = `
local ttl = tonumber(ARGV[1])
local blob = ARGV[2]
local lengths = ARGV[3]
local written = 0
local at = 1
for i = 1, #KEYS do
  local len = struct.unpack('<I4', lengths, 4 * i - 3)
  local new = string.sub(blob, at, at + len - 1)
  at = at + len
  local put
  if ttl > 0 then put = redis.call('SET', KEYS[i], new, 'PX', ttl, 'NX') else put = redis.call('SET', KEYS[i], new, 'NX') end
  if put then
    written = written + 1
  else
    local old = redis.call('GET', KEYS[i])
    local newer = true
    if old and #old >= 32 then
      local oe = struct.unpack('<d', old, 1)
      local ne = struct.unpack('<d', new, 1)
      if ne < oe then
        newer = false
      elseif ne == oe then
        local oc = struct.unpack('<d', old, 25)
        local nc = struct.unpack('<d', new, 25)
        if nc ~= nc then
          newer = (oc ~= oc)
        elseif oc == oc and nc < oc then
          newer = false
        end
      end
    end
    if newer then
      if ttl > 0 then redis.call('SET', KEYS[i], new, 'PX', ttl) else redis.call('SET', KEYS[i], new) end
      written = written + 1
    end
  end
end
return written
`;

interface WithPut {
  larderPutNewest(numKeys: number, ...args: (string | number | Uint8Array)[]): Promise<number>;
}

const defined = new WeakSet<RedisClient>();

function putCommand(client: RedisClient): WithPut {
  if (!defined.has(client)) {
    client.defineCommand('larderPutNewest', { lua: PUT_NEWEST });
    defined.add(client);
  }
  return client as unknown as WithPut;
}

/** The same bytes as a Buffer, without a copy. */
export const asBuffer = (u8: Uint8Array): Buffer => (Buffer.isBuffer(u8) ? u8 : Buffer.from(u8.buffer, u8.byteOffset, u8.byteLength));

export interface WriteResult {
  /** Rows stored. */
  written: number;
  /** Rows not stored because Redis held a newer row for the key. */
  kept: number;
}

/**
 * Writes `values[i]` under entity key `entityKeys[i]` of a view, newest
 * wins; `ttlMs` > 0 lets each key expire. Calls go out together (the
 * client pipelines them per node); rejects when Redis does.
 */
export async function writeRows(client: RedisClient, keys: ViewKeys, entityKeys: readonly string[], values: readonly Uint8Array[], ttlMs = 0): Promise<WriteResult> {
  const put = putCommand(client);
  const calls: Promise<number>[] = [];
  for (const group of byBucket(keys, entityKeys)) {
    for (let start = 0; start < group.length; start += MAX_KEYS_PER_CALL) {
      const chunk = group.slice(start, start + MAX_KEYS_PER_CALL);
      const args: (string | number | Uint8Array)[] = chunk.map((i) => keys.key(entityKeys[i]!));
      let total = 0;
      for (const i of chunk) total += values[i]!.length;
      const blob = Buffer.allocUnsafe(total);
      const lengths = Buffer.allocUnsafe(4 * chunk.length);
      let at = 0;
      chunk.forEach((i, j) => {
        const v = values[i]!;
        blob.set(v, at);
        at += v.length;
        lengths.writeUInt32LE(v.length, 4 * j);
      });
      // ioredis sends a Buffer as bytes (any other typed array as its text).
      args.push(ttlMs, blob, lengths);
      calls.push(put.larderPutNewest(chunk.length, ...args));
    }
  }
  const written = (await Promise.all(calls)).reduce((a, b) => a + b, 0);
  return { written, kept: entityKeys.length - written };
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
