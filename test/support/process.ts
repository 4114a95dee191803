/**
 * Real child processes for end-to-end tests: run one to completion, or start
 * one, wait for it to say something, and stop it. Every wait has a time limit
 * and a failure shows what the process printed.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

export const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

/** How a process ended and what it printed. */
export interface Finished {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface ProcessOptions {
  cwd?: string;
  /** The whole environment of the child (see cleanEnv). */
  env?: Record<string, string>;
}

/** A loopback port that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

/**
 * This process's environment without anything Bulwark reads (BULWARK_*,
 * DATABASE_URL), plus `extra`: a child sees only what the test gives it.
 * (The server also refuses unknown BULWARK_* names such as TEST_DATABASE_URL.)
 */
export function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (value === undefined || name.startsWith('BULWARK_') || name === 'DATABASE_URL') continue;
    env[name] = value;
  }
  return { ...env, ...extra };
}

/** Output for a failure message: both streams, labelled. */
export function describeOutput(out: { stdout: string; stderr: string }): string {
  return `--- stdout ---\n${out.stdout}--- stderr ---\n${out.stderr}`;
}

/**
 * Runs a command to its end. `input` is written to its stdin, which is then
 * closed (without input, closed at once: a prompt then fails instead of hanging).
 */
export async function run(
  command: string,
  args: readonly string[],
  opts: ProcessOptions & { input?: string; timeoutMs?: number } = {},
): Promise<Finished> {
  const proc = start(command, args, opts);
  proc.child.stdin.end(opts.input ?? '');
  const limit = opts.timeoutMs ?? 30_000;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      proc.child.kill('SIGKILL');
      reject(
        new Error(
          `${[command, ...args].join(' ')} did not finish within ${limit / 1000} s\n${describeOutput(proc.output())}`,
        ),
      );
    }, limit);
  });
  try {
    return await Promise.race([proc.exited, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export interface RunningProcess {
  child: ChildProcessWithoutNullStreams;
  /** Resolves once the process has exited (never rejects). */
  exited: Promise<Finished>;
  output(): { stdout: string; stderr: string };
  /**
   * Resolves when everything the process has printed on `stream` so far
   * matches `pattern`; rejects if it exits first or after `timeoutMs`.
   */
  waitFor(
    stream: 'stdout' | 'stderr',
    pattern: RegExp,
    what: string,
    timeoutMs?: number,
  ): Promise<void>;
  /** Sends `signal` (unless it has exited) and waits for the exit; SIGKILL after `timeoutMs`. */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<Finished>;
}

/** Starts a command with piped stdio; its output is collected as it comes. */
export function start(
  command: string,
  args: readonly string[],
  opts: ProcessOptions = {},
): RunningProcess {
  const child = spawn(command, args, {
    cwd: opts.cwd ?? repoRoot,
    env: opts.env ?? cleanEnv(),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const out = { stdout: '', stderr: '' };
  const listeners = new Set<() => void>();
  const changed = () => {
    for (const listener of listeners) listener();
  };
  child.stdout.setEncoding('utf8').on('data', (text: string) => {
    out.stdout += text;
    changed();
  });
  child.stderr.setEncoding('utf8').on('data', (text: string) => {
    out.stderr += text;
    changed();
  });
  // A child that exits before reading its stdin must not fail the test with EPIPE.
  child.stdin.on('error', () => {});
  let finished: Finished | null = null;
  const exited = new Promise<Finished>((resolve) => {
    child.once('error', (err) => {
      out.stderr += `\n[could not run ${command}: ${err.message}]\n`;
      finished = { code: null, signal: null, ...out };
      changed();
      resolve(finished);
    });
    // 'close', not 'exit': by then both output streams are read to the end.
    child.once('close', (code, signal) => {
      finished = { code, signal, ...out };
      changed();
      resolve(finished);
    });
  });

  return {
    child,
    exited,
    output: () => ({ ...out }),
    waitFor(stream, pattern, what, timeoutMs = 20_000) {
      return new Promise<void>((resolve, reject) => {
        const done = (err?: Error) => {
          listeners.delete(check);
          clearTimeout(timer);
          if (err) reject(err);
          else resolve();
        };
        const check = () => {
          if (pattern.test(out[stream])) done();
          else if (finished) {
            done(
              new Error(
                `the process exited (code ${finished.code}, signal ${finished.signal}) before ${what}\n${describeOutput(out)}`,
              ),
            );
          }
        };
        const timer = setTimeout(
          () =>
            done(
              new Error(
                `timed out after ${timeoutMs / 1000} s waiting for ${what}\n${describeOutput(out)}`,
              ),
            ),
          timeoutMs,
        );
        listeners.add(check);
        check();
      });
    },
    async stop(signal = 'SIGTERM', timeoutMs = 10_000) {
      if (finished) return finished;
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}
