/**
 * One in-memory DuckDB per build: opened here, closed by whoever opened it.
 * Helpers quote SQL literals and identifiers, since paths and column names
 * come from user config.
 */
import { type DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';

export interface Db {
  conn: DuckDBConnection;
  close(): void;
}

export interface OpenDbOptions {
  /** DuckDB worker threads; default: DuckDB's choice (all cores). */
  threads?: number;
}

export async function openDb(opts: OpenDbOptions = {}): Promise<Db> {
  const config: Record<string, string> = {};
  if (opts.threads !== undefined) config.threads = String(opts.threads);
  const instance = await DuckDBInstance.create(':memory:', config);
  const conn = await instance.connect();
  // Timestamps without a zone are read as UTC, and TIMESTAMPTZ values are
  // instants: the session zone must not depend on the machine.
  await conn.run(`SET TimeZone = 'UTC'`);
  let closed = false;
  return {
    conn,
    close() {
      if (closed) return;
      closed = true;
      conn.closeSync();
      instance.closeSync();
    },
  };
}

/** A SQL string literal. */
export const sqlString = (s: string): string => `'${s.replaceAll("'", "''")}'`;

/** A SQL identifier (column or table name), always quoted. */
export const sqlIdent = (s: string): string => `"${s.replaceAll('"', '""')}"`;

/** Runs a query and returns its rows as plain JS objects (small results only). */
export async function queryRows(conn: DuckDBConnection, sql: string): Promise<Record<string, unknown>[]> {
  const reader = await conn.runAndReadAll(sql);
  return reader.getRowObjectsJS() as Record<string, unknown>[];
}

/**
 * DuckDB's message on one line, without the echo of our own SQL ("LINE 1:
 * SELECT ...") that follows it: the caller names the file and view instead.
 */
export function duckdbMessage(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return msg.split(/\n\s*LINE \d+:/)[0]!.replace(/\s*\n\s*/g, ' ').trim();
}
