import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { type BulwarkClient, createClient } from './client.ts';
import type { SecretInput, SecretPrompter } from './prompt.ts';

/** Exit codes, the same for every command (and documented in `--help`). */
export const exitCodes = {
  ok: 0,
  /** Anything that went wrong: bad usage, no server, a server error. */
  error: 1,
  /** The server refused the secret given (unseal), or is sealed / uninitialised (status). */
  refused: 2,
  /** `bulwark audit`: the ledger or a proof failed to verify, or its history changed. */
  auditFailed: 3,
  /** The person pressed Ctrl-C at a prompt (128 + SIGINT, as shells do). */
  cancelled: 130,
} as const;

export interface TextOutput {
  write(text: string): unknown;
}

/** Everything the CLI touches of its process, so tests can run it in-process. */
export interface CliIo {
  stdin: SecretInput;
  stdout: TextOutput;
  stderr: TextOutput;
  env: Readonly<Record<string, string | undefined>>;
  cwd: string;
}

/** What one run of the CLI hands to its commands. */
export interface Session {
  io: CliIo;
  /** Made on first use: only commands that ask for a secret touch stdin. */
  prompter(): SecretPrompter;
  /** The global options of the program, resolved against env and defaults. */
  globals(cmd: Command): Globals;
  exitCode: number;
  /** Set by a command run with `--json`: errors are then also written to stdout as JSON. */
  json: boolean;
}

/** A failure with a message meant for the person at the terminal. */
export class CliError extends Error {
  readonly exitCode: number;
  /** The server's error code, when the server refused. */
  readonly code: string | undefined;
  constructor(message: string, exitCode: number = exitCodes.error, code?: string) {
    super(message);
    this.name = 'CliError';
    this.exitCode = exitCode;
    this.code = code;
  }
}

export const defaultServer = 'https://localhost:8443';
export const defaultDataDir = './data';

/** The raw global options as commander hands them over. */
export interface RawGlobals {
  server?: string;
  ca?: string;
  dataDir?: string;
}

export interface Globals {
  server: URL;
  /** The CA certificate file to trust, or null for the system trust store. */
  caFile: string | null;
  dataDir: string;
}

/** Option, then environment, then default; relative paths are resolved against `io.cwd`. */
export function resolveGlobals(raw: RawGlobals, io: CliIo): Globals {
  const serverText = raw.server ?? nonEmpty(io.env.BULWARK_SERVER) ?? defaultServer;
  const dataDir = resolve(
    io.cwd,
    raw.dataDir ?? nonEmpty(io.env.BULWARK_DATA_DIR) ?? defaultDataDir,
  );
  const explicitCa = raw.ca ?? nonEmpty(io.env.BULWARK_CA);
  let caFile: string | null;
  if (explicitCa !== undefined) {
    caFile = resolve(io.cwd, explicitCa);
  } else {
    const localCa = resolve(dataDir, 'tls', 'ca.crt');
    caFile = existsSync(localCa) ? localCa : null;
  }
  return { server: parseServerUrl(serverText), caFile, dataDir };
}

function parseServerUrl(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new CliError(`--server: "${printable(text)}" is not a URL (example: ${defaultServer})`);
  }
  if (url.protocol !== 'https:') {
    throw new CliError(`--server must be an https:// URL: Bulwark speaks HTTPS only`);
  }
  // Credentials in a URL end up in shell history and process lists.
  if (url.username !== '' || url.password !== '') {
    throw new CliError('--server must not contain a user name or password');
  }
  if (!url.pathname.endsWith('/')) url.pathname += '/';
  url.search = '';
  url.hash = '';
  return url;
}

/** An API client for the resolved server, trusting only the chosen CA. */
export function connect(globals: Globals): BulwarkClient {
  let ca: { file: string; pem: string } | null = null;
  if (globals.caFile !== null) {
    let pem: string;
    try {
      pem = readFileSync(globals.caFile, 'utf8');
    } catch (err) {
      throw new CliError(
        `cannot read the CA certificate ${globals.caFile}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
      );
    }
    if (!pem.includes('-----BEGIN CERTIFICATE-----')) {
      throw new CliError(
        `${globals.caFile} is not a PEM certificate (expected the server's ca.crt)`,
      );
    }
    ca = { file: globals.caFile, pem };
  }
  return createClient({ server: globals.server, ca });
}

export function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

/**
 * Text from the server or a file, made safe to print: control characters
 * are replaced so an answer cannot drive the terminal (escape sequences).
 */
export function printable(text: string): string {
  let out = '';
  for (const ch of text) {
    const c = ch.codePointAt(0) ?? 0;
    out += c < 0x20 || (c >= 0x7f && c <= 0x9f) ? '?' : ch;
  }
  return out;
}

export function writeJson(io: CliIo, value: unknown): void {
  io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}
