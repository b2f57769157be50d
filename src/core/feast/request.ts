/**
 * Feast's /get-online-features request and response shapes. Parsing turns a
 * request into a plan (which views, which keys, which output columns) or a
 * 4xx LarderError that names the problem; answer.ts turns resolved rows
 * into Feast's column-oriented response.
 */
import type { FieldStatus } from '../asof.js';
import { LarderError, quoteInput } from '../errors.js';
import { describeType } from '../dtypes.js';
import { entityKeyString, isJoinKeyValue } from '../keys.js';
import type { ViewSpec } from '../resolve/tier.js';
import type { ServingCatalog } from './catalog.js';
import type { Selection } from './selection.js';

export interface OnlineFeaturesRequest {
  features?: string[];
  feature_service?: string;
  entities: Record<string, unknown[]>;
  full_feature_names?: boolean;
}

export interface FeatureVector {
  values: unknown[];
  statuses: FieldStatus[];
  event_timestamps: string[];
}

export interface OnlineFeaturesResponse {
  metadata: { feature_names: string[] };
  results: FeatureVector[];
}

export interface RequestPlan {
  entityCount: number;
  /** Join keys as the request gave them, in request order. */
  joinKeys: { name: string; values: unknown[] }[];
  /** Each distinct view with its canonical entity keys, one per entity. */
  views: { view: ViewSpec; keys: string[] }[];
  /** The output columns after the join keys. */
  selection: Selection;
}

const bad = (msg: string) => new LarderError('LARDER_ERR_BAD_REQUEST', msg);
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

const KNOWN_FIELDS = new Set(['features', 'feature_service', 'entities', 'full_feature_names']);

export function planRequest(catalog: ServingCatalog, body: unknown, maxEntities = Infinity): RequestPlan {
  if (!isObj(body)) throw bad(`request body must be a JSON object, got ${describeType(body)}`);
  for (const k of Object.keys(body)) {
    if (!KNOWN_FIELDS.has(k)) throw bad(`unknown request field ${quoteInput(k)} (expected: features or feature_service, entities, full_feature_names)`);
  }
  const fullNames = body.full_feature_names ?? false;
  if (typeof fullNames !== 'boolean') throw bad(`"full_feature_names" must be a boolean, got ${describeType(fullNames)}`);

  const selection = catalog.selections.select(featureRefs(catalog, body), fullNames);

  const entities = body.entities;
  if (!isObj(entities)) throw bad(`"entities" must be an object of join key -> array of values, got ${describeType(entities)}`);
  const joinKeys: RequestPlan['joinKeys'] = [];
  let entityCount = -1;
  for (const [name, values] of Object.entries(entities)) {
    if (!Array.isArray(values)) throw bad(`entities.${quoteInput(name)} must be an array of values, got ${describeType(values)}`);
    if (entityCount === -1) entityCount = values.length;
    else if (values.length !== entityCount) {
      throw new LarderError('LARDER_ERR_ENTITY_LENGTHS', `entity columns have different lengths: ${quoteInput(joinKeys[0]!.name)} has ${entityCount} values, ${quoteInput(name)} has ${values.length}`);
    }
    joinKeys.push({ name, values });
  }
  if (joinKeys.length === 0) throw new LarderError('LARDER_ERR_MISSING_JOIN_KEY', '"entities" is empty: give at least one join key with its values');
  if (entityCount > maxEntities) {
    throw new LarderError('LARDER_ERR_TOO_MANY_ENTITIES', `request has ${entityCount} entities, more than the limit of ${maxEntities}`);
  }

  const given = new Map(joinKeys.map((j) => [j.name, j.values]));
  const needed = new Set<string>();
  const views: RequestPlan['views'] = [];
  for (const view of selection.views) {
    const columns = view.joinKeys.map((jk) => {
      needed.add(jk.name);
      const values = given.get(jk.name);
      if (!values) throw new LarderError('LARDER_ERR_MISSING_JOIN_KEY', `feature view "${view.name}" needs join key "${jk.name}", which "entities" does not have`);
      for (let i = 0; i < values.length; i++) {
        if (!isJoinKeyValue(jk.dtype, values[i])) {
          throw new LarderError('LARDER_ERR_JOIN_KEY_TYPE', `join key "${jk.name}" is ${jk.dtype}, but value ${i} is ${previewValue(values[i])} (${describeType(values[i])})`);
        }
      }
      return values as (string | number)[];
    });
    const keys = new Array<string>(entityCount);
    const parts = new Array<string | number>(columns.length);
    for (let i = 0; i < entityCount; i++) {
      for (let c = 0; c < columns.length; c++) parts[c] = columns[c]![i]!;
      keys[i] = entityKeyString(parts);
    }
    views.push({ view, keys });
  }
  for (const j of joinKeys) {
    if (!needed.has(j.name)) {
      throw new LarderError('LARDER_ERR_EXTRA_JOIN_KEY', `join key ${quoteInput(j.name)} is not used by any requested feature view (they use: ${[...needed].join(', ')})`);
    }
  }
  return { entityCount, joinKeys, views, selection };
}

/**
 * A short rendering of a request value for an error message. Never throws:
 * JSON.stringify overflows the stack on deeply nested input, and a request
 * must not be able to turn its own error message into a 500.
 */
function previewValue(v: unknown): string {
  if (typeof v === 'string') return quoteInput(v);
  if (Array.isArray(v)) return `[...${v.length} items]`;
  if (typeof v === 'object' && v !== null) return '{...}';
  return String(v);
}

/**
 * The request's feature references: its service's, or its own list (checked
 * by the selection). A field given as null counts as absent, as clients
 * that serialize every field of a request object send it.
 */
function featureRefs(catalog: ServingCatalog, body: Record<string, unknown>): unknown {
  const features = body.features ?? undefined;
  const service = body.feature_service ?? undefined;
  if (features !== undefined && service !== undefined) throw bad('give either "features" or "feature_service", not both');
  if (service !== undefined) {
    if (typeof service !== 'string') throw bad(`"feature_service" must be a string, got ${describeType(service)}`);
    const refs = catalog.services.get(service);
    if (!refs) throw new LarderError('LARDER_ERR_UNKNOWN_SERVICE', `feature service ${quoteInput(service)} does not exist (known: ${[...catalog.services.keys()].join(', ') || 'none'})`);
    return refs;
  }
  return features;
}

