import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import pino from 'pino';
import { loadConfig } from '../../packages/server/src/config/index.ts';
import { type ServerHandle, startServer } from '../../packages/server/src/server.ts';
import { type Answer, httpsRequest } from './https.ts';

/** Cheap Argon2id for in-process tests; spawned servers use the production cost. */
export const testArgon2id = { memory: 8192, passes: 1, parallelism: 1 };

export interface TestServer {
  handle: ServerHandle;
  dataDir: string;
  ca: string;
  request(
    path: string,
    opts?: { method?: string; body?: unknown; headers?: Record<string, string> },
  ): Promise<Answer>;
  close(): Promise<void>;
}

/** Starts a real server in this process on a random loopback port. */
export async function startTestServer(
  t: TestContext,
  opts: {
    dataDir: string;
    postgres?: { url: string; schema: string } | null;
    env?: Record<string, string>;
    /** Written as bulwark.config.json in the data directory (the config's cwd). */
    config?: Record<string, unknown>;
    /** Where the server's log goes, at debug level (default: nowhere). */
    logStream?: NodeJS.WritableStream;
  },
): Promise<TestServer> {
  const env: Record<string, string> = {
    BULWARK_DATA_DIR: opts.dataDir,
    BULWARK_HOST: '127.0.0.1',
    BULWARK_PORT: '0',
    BULWARK_LOG_LEVEL: 'silent',
    ...(opts.postgres
      ? { DATABASE_URL: opts.postgres.url, BULWARK_DB_SCHEMA: opts.postgres.schema }
      : {}),
    ...opts.env,
  };
  if (opts.config) {
    writeFileSync(join(opts.dataDir, 'bulwark.config.json'), JSON.stringify(opts.config));
  }
  const { config } = loadConfig({ cwd: opts.dataDir, env });
  const handle = await startServer(config, {
    logger: opts.logStream ? pino({ level: 'debug' }, opts.logStream) : pino({ level: 'silent' }),
    argon2id: testArgon2id,
  });
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await handle.close();
  };
  t.after(close);
  const ca = readFileSync(join(opts.dataDir, 'tls', 'ca.crt'), 'utf8');
  return {
    handle,
    dataDir: opts.dataDir,
    ca,
    request: (path, r = {}) => httpsRequest(`${handle.url}${path}`, { ca, ...r }),
    close,
  };
}
