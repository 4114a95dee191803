/**
 * The real `bulwark` server and CLI as separate processes, the way an
 * operator runs them (`npm start`, `npx bulwark …`).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import {
  cleanEnv,
  describeOutput,
  type Finished,
  freePort,
  type RunningProcess,
  repoRoot,
  run,
  start,
} from './process.ts';

export const cliEntry = join(repoRoot, 'packages/cli/bin/bulwark.js');
export const serverEntry = 'packages/server/src/main.ts';

export interface ServerProcess {
  url: string;
  port: number;
  dataDir: string;
  process: RunningProcess;
  /** SIGTERM, then the exit (a clean shutdown exits 0). */
  stop(): Promise<Finished>;
}

/**
 * `npm start` on `dataDir`, listening on 127.0.0.1; resolves once it says so.
 * The caller stops it (before its directories or schemas are removed).
 */
export async function startServerProcess(
  dataDir: string,
  opts: { port?: number; env?: Record<string, string> } = {},
): Promise<ServerProcess> {
  const port = opts.port ?? (await freePort());
  const proc = start(process.execPath, [serverEntry], {
    cwd: repoRoot,
    env: cleanEnv({
      BULWARK_DATA_DIR: dataDir,
      BULWARK_HOST: '127.0.0.1',
      BULWARK_PORT: String(port),
      ...opts.env,
    }),
  });
  const server: ServerProcess = {
    url: `https://127.0.0.1:${port}`,
    port,
    dataDir,
    process: proc,
    stop: () => proc.stop('SIGTERM'),
  };
  try {
    await proc.waitFor(
      'stderr',
      new RegExp(`listening on https://127\\.0\\.0\\.1:${port}\\b`),
      'the server to say it is listening',
      20_000,
    );
  } catch (err) {
    await server.stop();
    throw err;
  }
  return server;
}

export interface CliOptions {
  /** The operator's working directory (relative file paths resolve there). */
  cwd: string;
  /** Piped to stdin, which then closes: not a TTY, so one line is read per question. */
  input?: string;
  env?: Record<string, string>;
}

/** `npx bulwark <args>` against `server`, trusting only its CA. */
export function runCli(
  server: Pick<ServerProcess, 'url' | 'dataDir'>,
  args: readonly string[],
  opts: CliOptions,
): Promise<Finished> {
  const globals = [
    '--server',
    server.url,
    '--ca',
    join(server.dataDir, 'tls', 'ca.crt'),
    '--data-dir',
    server.dataDir,
  ];
  return run(process.execPath, [cliEntry, ...globals, ...args], {
    cwd: opts.cwd,
    env: cleanEnv(opts.env),
    ...(opts.input !== undefined ? { input: opts.input } : {}),
  });
}

export function expectExit(result: Finished, code: number, what: string): void {
  assert.equal(result.code, code, `${what}: expected exit ${code}\n${describeOutput(result)}`);
}
