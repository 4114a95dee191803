import { readFileSync, statSync } from 'node:fs';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { allowedKeysByPath, type BulwarkConfig, configSchema } from './schema.ts';

/** Start-up stops on this; `problems` holds one human line per fault. */
export class ConfigError extends Error {
  override name = 'ConfigError';
  readonly problems: string[];

  constructor(problems: string[]) {
    const safe = problems.map(redactSecrets);
    super(safe.join('\n'));
    this.problems = safe;
  }
}

export interface LoadConfigOptions {
  cwd: string;
  env: Record<string, string | undefined>;
  /** A path given explicitly (command line); wins over BULWARK_CONFIG. */
  configPath?: string;
}

export interface LoadedConfig {
  config: BulwarkConfig;
  /** Absolute path of the config file used, or null when none. */
  source: string | null;
}

export const configFileNames = [
  'bulwark.config.json',
  'bulwark.config.yaml',
  'bulwark.config.yml',
] as const;

/** A config file is small; refusing a huge one bounds the parser's work. */
const maxConfigFileBytes = 1024 * 1024;

type EnvKind = 'string' | 'port' | 'list' | 'boolean';

/** Environment variables the server reads, and the config key each sets. */
const envBindings: ReadonlyArray<{
  name: string;
  path: readonly [string, ...string[]];
  kind: EnvKind;
}> = [
  { name: 'DATABASE_URL', path: ['database', 'url'], kind: 'string' },
  { name: 'BULWARK_DATA_DIR', path: ['dataDir'], kind: 'string' },
  { name: 'BULWARK_HOST', path: ['listen', 'host'], kind: 'string' },
  { name: 'BULWARK_PORT', path: ['listen', 'port'], kind: 'port' },
  { name: 'BULWARK_SERVER_NAMES', path: ['tls', 'serverNames'], kind: 'list' },
  { name: 'BULWARK_TLS_CERT_FILE', path: ['tls', 'certFile'], kind: 'string' },
  { name: 'BULWARK_TLS_KEY_FILE', path: ['tls', 'keyFile'], kind: 'string' },
  { name: 'BULWARK_DB_SCHEMA', path: ['database', 'schema'], kind: 'string' },
  { name: 'BULWARK_LOG_LEVEL', path: ['log', 'level'], kind: 'string' },
  { name: 'BULWARK_METRICS', path: ['metrics', 'enabled'], kind: 'boolean' },
  { name: 'BULWARK_NATS_URL', path: ['events', 'nats', 'url'], kind: 'string' },
];

const configPathEnv = 'BULWARK_CONFIG';

/** Read by the CLI, not the server: present in the same shell, so not an error. */
const cliOnlyEnv = new Set([
  'BULWARK_PASSPHRASE',
  'BULWARK_PASSPHRASE_FILE',
  'BULWARK_SERVER',
  'BULWARK_CA',
  'BULWARK_OPERATOR_TOKEN',
  'BULWARK_OPERATOR_TOKEN_FILE',
]);

const knownServerEnv = [
  configPathEnv,
  ...envBindings.map((b) => b.name).filter((n) => n.startsWith('BULWARK_')),
].sort();

/**
 * Reads the config file (if any) and the environment, validates both with
 * `configSchema` and resolves relative paths. Everything comes through
 * `opts` (no process.env, no process.cwd()) so tests pass their own.
 * Throws `ConfigError` listing every problem found.
 */
export function loadConfig(opts: LoadConfigOptions): LoadedConfig {
  const cwd = resolve(opts.cwd);
  const env = opts.env;
  const problems: string[] = [];

  // 1. Unknown BULWARK_* variables: a typo (BULWARK_PROT) must not pass silently.
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined || !name.startsWith('BULWARK_')) continue;
    if (knownServerEnv.includes(name) || cliOnlyEnv.has(name)) continue;
    problems.push(
      `environment variable ${name} is not known; known: ${knownServerEnv.join(', ')} (and DATABASE_URL)`,
    );
  }

  // 2. Overrides from the environment, with where each came from.
  const overrides: Array<{ path: readonly string[]; value: unknown; env: string }> = [];
  for (const binding of envBindings) {
    const raw = env[binding.name];
    if (raw === undefined || raw === '') continue;
    const value = parseEnvValue(binding.name, binding.kind, raw, problems);
    if (value !== undefined) overrides.push({ path: binding.path, value, env: binding.name });
  }

  // 3. The config file.
  const found = findConfigFile(cwd, opts.configPath, env[configPathEnv]);
  if ('problem' in found) throw new ConfigError([...problems, found.problem]);
  const file = found.path;
  let raw: unknown = {};
  if (file !== null) {
    const parsed = readConfigFile(file);
    if ('problem' in parsed) throw new ConfigError([...problems, parsed.problem]);
    raw = parsed.value;
  }

  // 4. Environment over file, then one validation for both, so that one
  // start-up attempt reports every problem.
  const merged = applyOverrides(raw, overrides);
  const result = configSchema.safeParse(merged);
  if (!result.success) {
    problems.push(...result.error.issues.flatMap((i) => describeIssue(i, file, overrides)));
  }
  if (!result.success || problems.length > 0) throw new ConfigError(problems);

  // 5. Relative paths: from the file, against its directory; from the
  // environment, against the working directory (where the shell was).
  const config = result.data;
  const fileBase = file === null ? cwd : dirname(file);
  const baseFor = (envName: string) => (overrides.some((o) => o.env === envName) ? cwd : fileBase);
  config.dataDir = resolve(baseFor('BULWARK_DATA_DIR'), config.dataDir);
  if (config.tls.certFile !== undefined) {
    config.tls.certFile = resolve(baseFor('BULWARK_TLS_CERT_FILE'), config.tls.certFile);
  }
  if (config.tls.keyFile !== undefined) {
    config.tls.keyFile = resolve(baseFor('BULWARK_TLS_KEY_FILE'), config.tls.keyFile);
  }
  // NATS's files come only from the file: relative to its directory.
  const nats = config.events.nats;
  if (nats?.credsFile !== undefined) nats.credsFile = resolve(fileBase, nats.credsFile);
  if (nats?.tls) {
    for (const key of ['caFile', 'certFile', 'keyFile'] as const) {
      const path = nats.tls[key];
      if (path !== undefined) nats.tls[key] = resolve(fileBase, path);
    }
  }
  return { config, source: file };
}

/**
 * `postgres://user:***@host/db`: the password (in the user-info part or a
 * `password=` query parameter) replaced. Works on strings that do not parse
 * as URLs too, taking the last `@` so a password holding `@` is hidden whole.
 */
export function redactDatabaseUrl(url: string): string {
  let out = url;
  const userInfo = /^([a-z][a-z0-9+.-]*:\/\/)([^?#]*)@/i.exec(out);
  if (userInfo?.[2]?.includes(':')) {
    const user = userInfo[2].slice(0, userInfo[2].indexOf(':'));
    out = `${userInfo[1]}${user}:***@${out.slice(userInfo[0].length)}`;
  }
  return out.replace(/([?&]password=)[^&#]*/gi, '$1***');
}

/** Defence in depth: any postgres URL inside a message loses its password. */
function redactSecrets(message: string): string {
  return message.replace(/postgres(?:ql)?:\/\/\S*/gi, (url) => redactDatabaseUrl(url));
}

function parseEnvValue(name: string, kind: EnvKind, raw: string, problems: string[]): unknown {
  switch (kind) {
    case 'string':
      return raw;
    case 'list':
      return raw
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s.length > 0);
    case 'port': {
      const text = raw.trim();
      if (!/^\d{1,5}$/.test(text)) {
        problems.push(
          `environment variable ${name}: expected an integer between 0 and 65535, got ${JSON.stringify(raw)}`,
        );
        return undefined;
      }
      return Number(text);
    }
    case 'boolean': {
      const text = raw.trim().toLowerCase();
      if (text === 'true') return true;
      if (text === 'false') return false;
      problems.push(`environment variable ${name}: expected 'true' or 'false'`);
      return undefined;
    }
  }
}

function findConfigFile(
  cwd: string,
  explicit: string | undefined,
  fromEnv: string | undefined,
): { path: string | null } | { problem: string } {
  const given =
    explicit !== undefined && explicit !== ''
      ? { path: explicit, how: 'given on the command line' }
      : fromEnv !== undefined && fromEnv !== ''
        ? { path: fromEnv, how: `from environment variable ${configPathEnv}` }
        : null;
  if (given !== null) {
    const path = resolve(cwd, given.path);
    if (!isFile(path)) {
      return { problem: `config file ${path} (${given.how}) does not exist or is not a file` };
    }
    return { path };
  }
  const present = configFileNames.map((n) => join(cwd, n)).filter(isFile);
  if (present.length > 1) {
    const names = present.map((p) => basename(p)).join(' and ');
    return { problem: `more than one config file in ${cwd}: ${names}; keep one` };
  }
  return { path: present[0] ?? null };
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

type Parsed = { value: unknown } | { problem: string };

function readConfigFile(path: string): Parsed {
  const ext = extname(path).toLowerCase();
  if (ext !== '.json' && ext !== '.yaml' && ext !== '.yml') {
    return { problem: `config file ${path}: expected a .json, .yaml or .yml file` };
  }
  let text: string;
  try {
    if (statSync(path).size > maxConfigFileBytes) {
      return { problem: `config file ${path}: larger than ${maxConfigFileBytes} bytes` };
    }
    text = readFileSync(path, 'utf8');
  } catch (err) {
    return {
      problem: `config file ${path}: cannot be read (${(err as NodeJS.ErrnoException).code})`,
    };
  }
  if (text.startsWith('\uFEFF')) text = text.slice(1);
  return ext === '.json' ? parseJson(path, text) : parseYaml(path, text);
}

function parseJson(path: string, text: string): Parsed {
  try {
    return { value: JSON.parse(text) };
  } catch (err) {
    const message = (err as Error).message;
    // V8 quotes a piece of the input ("... is not valid JSON"): drop it, the
    // file may hold a database password.
    const reason = message
      .replace(/,? ".*" is not valid JSON$/s, '')
      .replace(/\s*in JSON at position \d+.*$/s, '');
    const position = /end of JSON input/.test(message)
      ? text.length
      : Number(/at position (\d+)/.exec(message)?.[1] ?? Number.NaN);
    let where = '';
    if (Number.isInteger(position)) {
      const before = text.slice(0, position);
      const line = before.split('\n').length;
      const column = before.length - before.lastIndexOf('\n');
      where = ` at line ${line}, column ${column}`;
    }
    return { problem: `config file ${path}: invalid JSON${where}: ${reason}` };
  }
}

function parseYaml(path: string, text: string): Parsed {
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: true });
  const error = doc.errors[0];
  if (error !== undefined) {
    // The pretty message's first line names the fault and its position;
    // the lines after it quote the file, which may hold a password.
    const pos = error.linePos?.[0];
    const reason = (error.message.split('\n')[0] ?? '')
      .replace(/\s*at line \d+, column \d+:?\s*$/, '')
      .trim();
    const where = pos === undefined ? '' : ` at line ${pos.line}, column ${pos.col}`;
    return { problem: `config file ${path}: invalid YAML${where}: ${reason}` };
  }
  // An empty YAML document means "no settings", not an error.
  const value: unknown = doc.toJS({ maxAliasCount: 100 });
  return { value: value ?? {} };
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function applyOverrides(
  raw: unknown,
  overrides: ReadonlyArray<{ path: readonly string[]; value: unknown }>,
): unknown {
  if (overrides.length === 0 || !isPlainObject(raw)) return raw;
  const root: Record<string, unknown> = { ...raw };
  for (const { path, value } of overrides) {
    let target = root;
    let reachable = true;
    for (const key of path.slice(0, -1)) {
      const next = target[key];
      if (next === undefined) {
        target[key] = {};
      } else if (isPlainObject(next)) {
        target[key] = { ...next };
      } else {
        // The file has a non-object here; leave it so its error is reported.
        reachable = false;
        break;
      }
      target = target[key] as Record<string, unknown>;
    }
    const last = path[path.length - 1];
    if (reachable && last !== undefined) target[last] = value;
  }
  return root;
}

function dotted(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? String(part) : `.${String(part)}`;
  }
  return out;
}

function describeIssue(
  issue: z.core.$ZodIssue,
  file: string | null,
  overrides: ReadonlyArray<{ path: readonly string[]; env: string }>,
): string[] {
  const where = file === null ? 'config' : `config file ${file}`;
  if (issue.code === 'unrecognized_keys') {
    // Only the file can hold unknown keys: the environment sets known ones.
    const parent = dotted(issue.path);
    const allowed = allowedKeysByPath[parent] ?? [];
    return issue.keys.map(
      (key) =>
        `${where}: unknown key \`${parent === '' ? key : `${parent}.${key}`}\`; allowed keys here: ${allowed.join(', ')}`,
    );
  }
  const key = dotted(issue.path);
  const fromEnv = overrides.find((o) => o.path.every((part, i) => issue.path[i] === part));
  if (fromEnv !== undefined) {
    return [`environment variable ${fromEnv.env} (${key}): ${issue.message}`];
  }
  return [`${where}: ${key === '' ? '(top level)' : key}: ${issue.message}`];
}
