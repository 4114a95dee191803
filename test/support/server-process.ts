import { spawn } from 'node:child_process';
import type { TestContext } from 'node:test';
import { cleanEnv, repoRoot } from './process.ts';

export { freePort } from './process.ts';

export interface ExitedServer {
  code: number | null;
  stderr: string;
  stdout: string;
}

/**
 * Runs `npm start`'s entry point (packages/server/src/main.ts) as its own
 * process and waits for it either to exit or to say it is listening.
 */
export function runServerProcess(
  t: TestContext,
  env: Record<string, string>,
  opts: { cwd?: string; args?: string[]; timeoutMs?: number } = {},
): Promise<{
  exited: ExitedServer | null;
  stop: () => Promise<ExitedServer>;
  /** Sends a signal (e.g. SIGKILL for crash tests) and waits for the exit. */
  kill: (signal: NodeJS.Signals) => Promise<ExitedServer>;
  stderr: () => string;
}> {
  const child = spawn(
    process.execPath,
    [`${repoRoot}packages/server/src/main.ts`, ...(opts.args ?? [])],
    {
      cwd: opts.cwd ?? repoRoot,
      env: cleanEnv({ BULWARK_LOG_LEVEL: 'warn', ...env }),
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  const exit = new Promise<ExitedServer>((resolve) =>
    child.on('exit', (code) => resolve({ code, stderr, stdout })),
  );
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    return exit;
  };
  const kill = async (signal: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    return exit;
  };
  // Never leave a server behind, whatever the test's outcome.
  t.after(stop);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`server neither started nor exited within the time limit:\n${stderr}`));
    }, opts.timeoutMs ?? 30_000);
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
      if (/listening on https:\/\//.test(stderr)) {
        clearTimeout(timer);
        resolve({ exited: null, stop, kill, stderr: () => stderr });
      }
    });
    void exit.then((exited) => {
      clearTimeout(timer);
      resolve({ exited: { ...exited, stderr }, stop, kill, stderr: () => stderr });
    });
  });
}
