/**
 * The reference snapshot query the builder benchmark measures beside the
 * builder's own statement: per key, the latest visible row (QUALIFY
 * row_number), ordered by the as-of rule's own ordering (asofOrderBySql in
 * src/core/asof.ts), not a copy of it. The benchmark datasets have no
 * created timestamp and one file, so the ordering is the event time alone.
 */
import { asofOrderBySql } from '../../dist/src/core/asof.js';

const sqlString = (s) => `'${s.replaceAll("'", "''")}'`;
const ident = (s) => `"${s.replaceAll('"', '""')}"`;

export function snapshotSql(parquetGlob, joinKey, tsField, columns, asOf) {
  const select = columns.map(ident).join(', ');
  const order = asofOrderBySql({ event_ts: [ident(tsField)], created_ts: [], source_position: [] });
  return `SELECT ${ident(joinKey)}, ${ident(tsField)}, ${select}
    FROM read_parquet(${sqlString(parquetGlob)})
    WHERE ${ident(tsField)} <= ${sqlString(asOf.toISOString().replace('T', ' ').replace('Z', ''))}::TIMESTAMP
    QUALIFY row_number() OVER (PARTITION BY ${ident(joinKey)} ORDER BY ${order}) = 1`;
}
