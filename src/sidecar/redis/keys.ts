/**
 * The Redis key layout, once (materialize, push and the sidecar all key
 * rows through here):
 *
 *   <namespace>:{<project>:<view>:<layout>:<bucket>}:<entity key>   one row (a string: see row-value.ts)
 *   <namespace>:{<project>}:changes                                  the change stream of pushed rows
 *   <namespace>:{<project>}:pushed                                   hash: view -> stream id of its last push
 *
 * - namespace (`--redis-namespace`, default `larder`) and project let
 *   several deployments and projects share one Redis.
 * - layout is the row layout's fingerprint (RowValueCodec): a view whose
 *   features change is keyed anew, so a value is never read under a
 *   definition it was not written with.
 * - bucket is hashKey(entity key) mod KEY_BUCKETS. The braces are a Redis
 *   Cluster hash tag: every key of one (view, bucket) lives in one slot, so
 *   one MGET reads all of a request's keys in a bucket, and a request needs
 *   at most one round trip per node (the client pipelines the MGETs of one
 *   node together). The buckets spread a view over KEY_BUCKETS slots, so
 *   its keys, and its load, spread over the cluster's masters.
 * - the entity key is its canonical string (keys.ts): a composite key's
 *   parts joined by U+001F.
 */
import { hashKey } from '../../core/keys.js';

/** Slots a view's keys are spread over in a cluster (power of two). */
export const KEY_BUCKETS = 16;

/** Checks a namespace: it must not hold the braces that delimit hash tags. */
export function namespaceProblem(ns: string): string | undefined {
  if (ns === '') return 'must not be empty';
  if (/[{}\s]/.test(ns)) return 'must not contain braces or spaces';
  return undefined;
}

/** The keys of one view's rows. */
export class ViewKeys {
  /** One prefix per bucket, made once. */
  private readonly prefixes: string[];

  constructor(namespace: string, project: string, view: string, layout: string) {
    this.prefixes = Array.from({ length: KEY_BUCKETS }, (_, b) => `${namespace}:{${project}:${view}:${layout}:${b.toString(16).padStart(2, '0')}}:`);
  }

  bucket(entityKey: string): number {
    return hashKey(entityKey) & (KEY_BUCKETS - 1);
  }

  key(entityKey: string): string {
    return this.prefixes[this.bucket(entityKey)]! + entityKey;
  }

  /** The part of `key(entityKey)` before the entity key. */
  prefix(entityKey: string): string {
    return this.prefixes[this.bucket(entityKey)]!;
  }

  /** A pattern matching every row key of the view (for SCAN in tests and tools). */
  pattern(): string {
    return this.prefixes[0]!.replace(/:00\}:$/, ':*}:*');
  }
}

export const streamKey = (namespace: string, project: string): string => `${namespace}:{${project}}:changes`;
export const pushedKey = (namespace: string, project: string): string => `${namespace}:{${project}}:pushed`;

/** Groups indexes of `entityKeys` by bucket (only buckets that occur). */
export function byBucket(keys: ViewKeys, entityKeys: readonly string[], indexes?: readonly number[]): number[][] {
  const groups: number[][] = [];
  const visit = (i: number) => (groups[keys.bucket(entityKeys[i]!)] ??= []).push(i);
  if (indexes) for (const i of indexes) visit(i);
  else for (let i = 0; i < entityKeys.length; i++) visit(i);
  return groups.filter((g) => g !== undefined);
}
