import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const bin = fileURLToPath(new URL('../../bin/bulwark.js', import.meta.url));

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** Written to stdin, which is then closed (stdin is a pipe, not a TTY). */
  input?: string;
  /** Added to a minimal environment; `undefined` removes a variable. */
  env?: Record<string, string | undefined>;
  cwd?: string;
}

/**
 * Runs `node packages/cli/bin/bulwark.js` as a child process. Asynchronous on
 * purpose: the fake server lives in the test's own event loop.
 */
export function runBulwark(args: readonly string[], opts: RunOptions = {}): Promise<CliRun> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries({ PATH: process.env.PATH, ...opts.env })) {
    if (v !== undefined) env[k] = v;
  }
  const child = spawn(process.execPath, [bin, ...args], {
    env,
    cwd: opts.cwd ?? process.cwd(),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => {
    stdout += s;
  });
  child.stderr.setEncoding('utf8').on('data', (s: string) => {
    stderr += s;
  });
  child.stdin.end(opts.input ?? '');
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => child.kill(), 20_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Runs the CLI against a fake server (URL and CA from the environment), in the server's temp dir. */
export function runAgainst(
  server: { url: string; caFile: string; dir: string },
  args: readonly string[],
  opts: RunOptions = {},
): Promise<CliRun> {
  return runBulwark(args, {
    cwd: server.dir,
    ...opts,
    env: { BULWARK_SERVER: server.url, BULWARK_CA: server.caFile, ...opts.env },
  });
}
