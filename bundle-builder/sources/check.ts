/**
 * Checks a feature view against its source's schema before any data is
 * read, and turns it into a read plan: which columns, cast how. Every error
 * names the config file, the view, the field and the data file.
 */
import type { JoinKeyDtype } from '../../src/core/dtypes.js';
import type { Dtype } from '../../src/core/dtypes.js';
import { LarderError } from '../../src/core/errors.js';
import type { FeatureViewDef, RepoDef } from '../../src/core/repo/types.js';
import { badTimeSql, columnFits, epochMsSql, expectedTypes, featureSql, isTimestampType, joinKeyDtype } from './column-types.js';
import type { OpenSource } from './source.js';

export interface ViewReadPlan {
  view: FeatureViewDef;
  source: OpenSource;
  /** Join keys in key order: entities in view order, each entity's joinKeys in order. */
  joinKeys: { name: string; dtype: JoinKeyDtype }[];
  /** SQL giving event time in epoch ms (BIGINT). */
  eventTsSql: string;
  /** SQL giving created time in epoch ms, when the source has a created timestamp field. */
  createdTsSql?: string;
  features: { name: string; dtype: Dtype; sql: string }[];
  /**
   * The time columns the view reads (event, created, timestamp features),
   * each with SQL true where a row holds a time larder cannot store.
   */
  timeColumns: { column: string; role: string; badSql: string }[];
}

/** The view's join key column names, in key order. */
export function viewJoinKeyNames(repo: RepoDef, view: FeatureViewDef): string[] {
  const names: string[] = [];
  for (const entityName of view.entities) {
    const entity = repo.entities.find((e) => e.name === entityName)!;
    for (const k of entity.joinKeys) if (!names.includes(k)) names.push(k);
  }
  return names;
}

export function checkView(repo: RepoDef, view: FeatureViewDef, source: OpenSource, configFile: string): ViewReadPlan {
  const problems: string[] = [];
  const where = `feature view "${view.name}"`;
  const describeFiles = source.files.length === 1 ? source.files[0]! : `${source.files.length} files of ${source.def.path}`;

  /** The column's type in every file; reports the first file lacking it or typing it wrongly. */
  const typeOf = (field: string, column: string, fits: (t: string) => boolean, expected: string): string | undefined => {
    for (const fs of source.fileSchemas) {
      const t = fs.columns.get(column);
      if (t === undefined) {
        problems.push(`${where}, ${field}: column "${column}" not found in ${fs.file} (source "${source.def.name}"; columns: ${[...fs.columns.keys()].join(', ')})`);
        return undefined;
      }
      if (!fits(t)) {
        problems.push(`${where}, ${field}: column "${column}" of ${fs.file} is ${t}, expected ${expected}`);
        return undefined;
      }
    }
    const t = source.columns.get(column);
    if (t === undefined || !fits(t)) {
      problems.push(`${where}, ${field}: column "${column}" of ${describeFiles} combines to ${t ?? 'nothing'}, expected ${expected}`);
      return undefined;
    }
    return t;
  };

  const joinKeys: ViewReadPlan['joinKeys'] = [];
  for (const name of viewJoinKeyNames(repo, view)) {
    const t = typeOf(`join key "${name}"`, name, (x) => joinKeyDtype(x) !== undefined, 'an integer type or VARCHAR');
    if (!t) continue;
    const dtype = joinKeyDtype(t)!;
    // 7 and "7" are different keys: every file must agree on the key's kind.
    const other = source.fileSchemas.find((fs) => joinKeyDtype(fs.columns.get(name)!) !== dtype);
    if (other) {
      problems.push(`${where}, join key "${name}": column "${name}" is ${other.columns.get(name)} in ${other.file} but ${dtype === 'int64' ? 'an integer' : 'VARCHAR'} in other files of source "${source.def.name}"; every file must give the key one type`);
      continue;
    }
    joinKeys.push({ name, dtype });
  }
  const tsExpected = 'TIMESTAMP, TIMESTAMP WITH TIME ZONE or DATE';
  const tsField = source.def.timestampField;
  const tsType = typeOf(`timestampField "${tsField}" (source "${source.def.name}")`, tsField, isTimestampType, tsExpected);
  const createdField = source.def.createdTimestampField;
  const createdType = createdField
    ? typeOf(`createdTimestampField "${createdField}" (source "${source.def.name}")`, createdField, isTimestampType, tsExpected)
    : undefined;
  const features: ViewReadPlan['features'] = [];
  const timeColumns: ViewReadPlan['timeColumns'] = [];
  if (tsType) timeColumns.push({ column: tsField, role: 'timestampField', badSql: badTimeSql(tsField, tsType) });
  if (createdField && createdType) timeColumns.push({ column: createdField, role: 'createdTimestampField', badSql: badTimeSql(createdField, createdType) });
  for (const f of view.features) {
    const t = typeOf(`feature "${f.name}" (${f.dtype})`, f.name, (x) => columnFits(f.dtype, x), expectedTypes(f.dtype));
    if (!t) continue;
    features.push({ name: f.name, dtype: f.dtype, sql: featureSql(f.name, f.dtype, t) });
    // A source column read as both the event time and a feature is checked once.
    if (f.dtype === 'timestamp' && !timeColumns.some((c) => c.column === f.name)) {
      timeColumns.push({ column: f.name, role: `feature "${f.name}"`, badSql: badTimeSql(f.name, t) });
    }
  }
  if (problems.length > 0) {
    throw new LarderError('LARDER_ERR_CONFIG', `feature repo does not match its data:\n  ${problems.map((p) => `${configFile}: ${p}`).join('\n  ')}`);
  }
  const plan: ViewReadPlan = { view, source, joinKeys, eventTsSql: epochMsSql(tsField, tsType!), features, timeColumns };
  if (createdField) plan.createdTsSql = epochMsSql(createdField, createdType!);
  return plan;
}
