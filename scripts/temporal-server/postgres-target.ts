// The Postgres a Temporal cluster keeps its state in, given as a URL. The password may come from the URL
// or, better (a URL on a command line is visible to every user of the host), from PGPASSWORD.
export interface PostgresTarget {
  host: string;
  port: number;
  user: string;
  password: string;
}

export function parsePostgresUrl(raw: string, env: NodeJS.ProcessEnv = process.env): PostgresTarget {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new Error(`--postgres must be a URL like postgres://user@host:5432, got "${raw.replace(/:[^:@/]*@/, ':***@')}"`);
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') throw new Error(`--postgres must be a postgres:// URL, got ${url.protocol}//`);
  return {
    host: url.hostname || '127.0.0.1',
    port: Number(url.port || 5432),
    user: decodeURIComponent(url.username) || 'postgres',
    password: decodeURIComponent(url.password) || env.PGPASSWORD || '',
  };
}
