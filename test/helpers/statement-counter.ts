// A test-only database handle that records every statement it sends to Postgres (postgres.js' `debug`
// hook sees each query as it is built, BEGIN and COMMIT of a transaction included), so a test can pin
// how many round trips a piece of work costs. It is a second pool on the same real test database: the
// code under test runs unchanged, only its statements are observed.
import { drizzle } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import type { Database } from '../../src/db/client';
import * as schema from '../../src/db/schema';

export interface StatementCounter {
  db: Database;
  /** Runs `work` and returns what it returned with the statements sent meanwhile, in order (whitespace folded). */
  record<T>(work: () => Promise<T>): Promise<{ result: T; statements: string[] }>;
  close(): Promise<void>;
}

export function countingDatabase(url: string): StatementCounter {
  let recording: string[] | undefined;
  const client = postgres(url, {
    max: 4,
    onnotice: () => {},
    debug: (_connection, query) => recording?.push(query.replace(/\s+/g, ' ').trim()),
  });
  return {
    db: drizzle(client, { schema }),
    async record(work) {
      if (recording) throw new Error('statement counter: one recording at a time');
      const statements: string[] = [];
      recording = statements;
      try {
        return { result: await work(), statements };
      } finally {
        recording = undefined;
      }
    },
    close: () => client.end({ timeout: 5 }),
  };
}
