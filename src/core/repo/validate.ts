/**
 * Validates a feature repo before any data is read. Every message names the
 * config file, the object (view, entity, source or service) and the field.
 */
import { LarderError } from '../errors.js';
import { DTYPES, describeType, isDtype, valueMatchesDtype } from '../dtypes.js';
import type { FeatureServiceDef, FeatureViewDef, RepoDef } from './types.js';

const NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

class Problems {
  readonly list: string[] = [];
  constructor(readonly file: string) {}
  add(where: string, msg: string): void {
    this.list.push(`${this.file}: ${where}: ${msg}`);
  }
}

const isObj = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const isStr = (v: unknown): v is string => typeof v === 'string' && v.length > 0;
const isStrArray = (v: unknown): v is string[] => Array.isArray(v) && v.every(isStr);

function checkName(p: Problems, where: string, v: unknown): boolean {
  if (!isStr(v)) {
    p.add(where, `field "name" must be a non-empty string, got ${describeType(v)}`);
    return false;
  }
  if (!NAME_RE.test(v)) {
    p.add(where, `field "name" ${JSON.stringify(v)} must match ${NAME_RE} (letters, digits, _)`);
    return false;
  }
  return true;
}

function checkUnique(p: Problems, kind: string, names: string[]): void {
  const seen = new Set<string>();
  for (const n of names) {
    if (seen.has(n)) p.add(`${kind} "${n}"`, `duplicate ${kind} name "${n}"`);
    seen.add(n);
  }
}

function arrayField(p: Problems, raw: Record<string, unknown>, field: string): unknown[] {
  const v = raw[field];
  if (v === undefined) return [];
  if (!Array.isArray(v)) {
    p.add('repo', `field "${field}" must be an array, got ${describeType(v)}`);
    return [];
  }
  return v;
}

/**
 * Checks `raw` (whatever the config file exported) and returns it as a
 * RepoDef. Throws one LarderError (LARDER_ERR_CONFIG) listing every problem.
 */
export function validateRepo(raw: unknown, file: string): RepoDef {
  const p = new Problems(file);
  if (!isObj(raw)) {
    throw new LarderError('LARDER_ERR_CONFIG', `${file}: the config must export a repo object (defineRepo({...})), got ${describeType(raw)}`);
  }
  if (!isStr(raw.project)) p.add('repo', `field "project" must be a non-empty string`);

  const entities = arrayField(p, raw, 'entities');
  const sources = arrayField(p, raw, 'sources');
  const views = arrayField(p, raw, 'featureViews');
  const services = arrayField(p, raw, 'featureServices');

  const entityNames: string[] = [];
  for (const [i, e] of entities.entries()) {
    const where = isObj(e) && isStr(e.name) ? `entity "${e.name}"` : `entities[${i}]`;
    if (!isObj(e)) { p.add(where, 'must be an object'); continue; }
    if (checkName(p, where, e.name)) entityNames.push(e.name as string);
    if (!isStrArray(e.joinKeys) || e.joinKeys.length === 0) {
      p.add(where, 'field "joinKeys" must be a non-empty array of column names');
    }
  }
  checkUnique(p, 'entity', entityNames);

  const sourceNames: string[] = [];
  for (const [i, s] of sources.entries()) {
    const where = isObj(s) && isStr(s.name) ? `source "${s.name}"` : `sources[${i}]`;
    if (!isObj(s)) { p.add(where, 'must be an object'); continue; }
    if (checkName(p, where, s.name)) sourceNames.push(s.name as string);
    if (!isStr(s.path)) p.add(where, 'field "path" must be a non-empty string (a file or glob, relative to the repo)');
    if (!isStr(s.timestampField)) p.add(where, 'field "timestampField" must name the event-time column');
    if (s.createdTimestampField !== undefined && !isStr(s.createdTimestampField)) {
      p.add(where, 'field "createdTimestampField" must be a column name when given');
    }
  }
  checkUnique(p, 'source', sourceNames);

  const viewNames: string[] = [];
  const viewFeatures = new Map<string, Set<string>>();
  for (const [i, v] of views.entries()) {
    const where = isObj(v) && isStr(v.name) ? `feature view "${v.name}"` : `featureViews[${i}]`;
    if (!isObj(v)) { p.add(where, 'must be an object'); continue; }
    if (checkName(p, where, v.name)) viewNames.push(v.name as string);
    checkView(p, where, v, entityNames, sourceNames, viewFeatures);
  }
  checkUnique(p, 'feature view', viewNames);

  const serviceNames: string[] = [];
  for (const [i, s] of services.entries()) {
    const where = isObj(s) && isStr(s.name) ? `feature service "${s.name}"` : `featureServices[${i}]`;
    if (!isObj(s)) { p.add(where, 'must be an object'); continue; }
    if (checkName(p, where, s.name)) serviceNames.push(s.name as string);
    checkService(p, where, s, viewFeatures);
  }
  checkUnique(p, 'feature service', serviceNames);

  if (p.list.length > 0) {
    throw new LarderError('LARDER_ERR_CONFIG', `invalid feature repo:\n  ${p.list.join('\n  ')}`);
  }
  return {
    project: raw.project as string,
    entities: entities as RepoDef['entities'],
    sources: sources as RepoDef['sources'],
    featureViews: views as FeatureViewDef[],
    featureServices: services as FeatureServiceDef[],
  };
}

function checkView(
  p: Problems,
  where: string,
  v: Record<string, unknown>,
  entityNames: string[],
  sourceNames: string[],
  viewFeatures: Map<string, Set<string>>,
): void {
  if (!isStrArray(v.entities) || v.entities.length === 0) {
    p.add(where, 'field "entities" must be a non-empty array of entity names');
  } else {
    for (const e of v.entities) {
      if (!entityNames.includes(e)) p.add(where, `field "entities": unknown entity "${e}" (known: ${entityNames.join(', ') || 'none'})`);
    }
  }
  if (!isStr(v.source)) p.add(where, 'field "source" must name a source');
  else if (!sourceNames.includes(v.source)) {
    p.add(where, `field "source": unknown source "${v.source}" (known: ${sourceNames.join(', ') || 'none'})`);
  }
  if (typeof v.ttlSeconds !== 'number' || !Number.isFinite(v.ttlSeconds) || v.ttlSeconds < 0) {
    p.add(where, `field "ttlSeconds" must be a number >= 0 (0 = never stale), got ${describeType(v.ttlSeconds)}`);
  }
  if (v.online !== undefined && typeof v.online !== 'boolean') p.add(where, 'field "online" must be a boolean');
  for (const f of ['owner', 'description'] as const) {
    if (v[f] !== undefined && typeof v[f] !== 'string') p.add(where, `field "${f}" must be a string`);
  }
  if (v.tags !== undefined && (!isObj(v.tags) || !Object.values(v.tags).every((t) => typeof t === 'string'))) {
    p.add(where, 'field "tags" must be an object of string values');
  }
  if (!Array.isArray(v.features) || v.features.length === 0) {
    p.add(where, 'field "features" must be a non-empty array');
    return;
  }
  const names: string[] = [];
  for (const [j, f] of v.features.entries()) {
    const fwhere = isObj(f) && isStr(f.name) ? `${where}, feature "${f.name}"` : `${where}, features[${j}]`;
    if (!isObj(f)) { p.add(fwhere, 'must be an object'); continue; }
    if (checkName(p, fwhere, f.name)) names.push(f.name as string);
    if (!isDtype(f.dtype)) {
      p.add(fwhere, `field "dtype": unknown dtype ${JSON.stringify(f.dtype)} (one of ${DTYPES.join(', ')})`);
    } else if (f.default !== undefined && f.default !== null && !valueMatchesDtype(f.dtype, f.default)) {
      p.add(fwhere, `field "default": ${JSON.stringify(f.default)} is not a valid ${f.dtype}`);
    }
    if (f.description !== undefined && typeof f.description !== 'string') p.add(fwhere, 'field "description" must be a string');
  }
  const seen = new Set<string>();
  for (const n of names) {
    if (seen.has(n)) p.add(`${where}, feature "${n}"`, `duplicate feature name "${n}"`);
    seen.add(n);
  }
  if (isStr(v.name)) viewFeatures.set(v.name, seen);
}

function checkService(
  p: Problems,
  where: string,
  s: Record<string, unknown>,
  viewFeatures: Map<string, Set<string>>,
): void {
  if (!isStrArray(s.features) || s.features.length === 0) {
    p.add(where, 'field "features" must be a non-empty array of "view:feature" or "view:*"');
    return;
  }
  for (const ref of s.features) {
    const [view, feature, extra] = ref.split(':');
    if (!view || !feature || extra !== undefined) {
      p.add(where, `field "features": ${JSON.stringify(ref)} is not "view:feature" or "view:*"`);
      continue;
    }
    const known = viewFeatures.get(view);
    if (!known) p.add(where, `field "features": unknown feature view "${view}" in "${ref}"`);
    else if (feature !== '*' && !known.has(feature)) p.add(where, `field "features": view "${view}" has no feature "${feature}"`);
  }
}
