import pg from 'pg';
import { PostgresDialect } from 'kysely';

const INT8 = 20;
const NUMERIC = 1700;

/**
 * Opens a pg pool whose bigints come back as numbers (epoch-ms times fit in 2^53) and whose
 * statements stop after `statementTimeoutMs` (0: no limit).
 */
export function createPostgresDialect(uri: string, maxConnections = 10, statementTimeoutMs = 0): { raw: pg.Pool; dialect: PostgresDialect } {
  const raw = new pg.Pool({
    connectionString: uri,
    max: maxConnections,
    // Sent at connection start-up, so every statement of every connection is bounded.
    ...(statementTimeoutMs > 0 ? { statement_timeout: statementTimeoutMs } : {}),
    // JIT compiling a search with many filter subqueries took seconds for a query that runs
    // in milliseconds; every statement here is short, so it never pays off.
    options: '-c jit=off',
    types: {
      getTypeParser: ((oid: number, format?: 'text' | 'binary') => {
        if (oid === INT8 || oid === NUMERIC) return (v: string) => Number(v);
        return pg.types.getTypeParser(oid, format as 'text');
      }) as typeof pg.types.getTypeParser,
    },
  });
  // An idle client whose connection the server closed must not crash the process;
  // the pool drops it and the next query opens a fresh one.
  raw.on('error', () => {});
  // A client checked out of the pool (a transaction between statements) has no listener of the
  // pool's: its connection dropping (a PostgreSQL restart) would be an unhandled 'error' that ends
  // the process. Its next statement fails instead, and the pool discards it on release.
  raw.on('connect', (client) => client.on('error', () => {}));
  return { raw, dialect: new PostgresDialect({ pool: raw }) };
}
