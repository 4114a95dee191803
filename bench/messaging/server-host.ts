/**
 * The server of bench/messaging/delivery.bench.ts, in a process of its own
 * (forked with --expose-gc and an IPC channel), so that its memory and CPU
 * are the server's alone: the devices' sockets and the senders' MLS work
 * run in the benchmark's process. It is the real server (`startServer`,
 * what packages/server/src/main.ts runs) on a temporary data directory,
 * HTTPS on a loopback port, plus a few debug hooks over IPC:
 *
 *   populate {groups, perGroup}  one org, `groups` projects with `perGroup`
 *                                people each, a bearer session per person
 *                                (as test/support/directory-world.ts does)
 *   memory {settleMs}            process.memoryUsage() after gc() has settled
 *   cpu                          process.cpuUsage()
 *   timings {method, suffix}     server time of matching requests since the
 *                                last call (HTTP `request` event → `finish`)
 *   sql {top}                    with BENCH_SQL_TIMING=1: time spent in each
 *                                SQLite statement since the last call
 *   stalls                       event-loop stalls over 50 ms since the last
 *                                call (a 10 ms timer that fired late)
 *   close
 *
 * Environment: BENCH_DATABASE_URL runs it on PostgreSQL (a fresh schema,
 * dropped on close) instead of SQLCipher. BENCH_SQL_TIMING=1 wraps every
 * prepared SQLite statement's run/get/all in a timer (SQLCipher only): the
 * time includes page encryption and, for writes, the WAL fsync that
 * `synchronous = FULL` makes at every commit.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3-multiple-ciphers';
import pg from 'pg';
import pino from 'pino';
import { loadConfig } from '../../packages/server/src/config/index.ts';
import { OrgStore } from '../../packages/server/src/directory/orgs.ts';
import { MemberStore, ProjectStore } from '../../packages/server/src/directory/projects.ts';
import { startServer } from '../../packages/server/src/server.ts';
import { schemaChangeLock } from '../../packages/server/src/storage/storage.ts';

export interface PopulatedGroup {
  projectId: string;
  people: { userId: string; token: string }[];
}

export type HostRequest =
  | { id: number; type: 'populate'; groups: number; perGroup: number }
  | { id: number; type: 'memory'; settleMs: number }
  | { id: number; type: 'cpu' }
  | { id: number; type: 'timings'; method: string; suffix: string }
  | { id: number; type: 'sql'; top: number }
  | { id: number; type: 'stalls' }
  | { id: number; type: 'close' };

const send = (m: object) => process.send?.(m);
if (!process.send) throw new Error('server-host.ts runs as a forked child with an IPC channel');

const gc = (globalThis as { gc?: () => void }).gc;
const databaseUrl = process.env.BENCH_DATABASE_URL;
const dataDir = mkdtempSync(join(tmpdir(), 'bulwark-messaging-bench-'));
const schema = `bwm_bench_${randomBytes(5).toString('hex')}`;
export interface SqlTiming {
  sql: string;
  n: number;
  ms: number;
  maxMs: number;
}
const sqlTimes = new Map<string, SqlTiming>();
if (process.env.BENCH_SQL_TIMING === '1') {
  type Statement = Record<'run' | 'get' | 'all', (...args: unknown[]) => unknown>;
  const proto = Database.prototype as unknown as {
    prepare(this: unknown, source: string): Statement;
  };
  const prepare = proto.prepare;
  proto.prepare = function (this: unknown, source: string) {
    const statement = prepare.call(this, source);
    const sql = source.replace(/\s+/g, ' ').slice(0, 160);
    for (const method of ['run', 'get', 'all'] as const) {
      const original = statement[method];
      statement[method] = function (this: unknown, ...args: unknown[]) {
        const t0 = performance.now();
        try {
          return original.apply(this, args);
        } finally {
          const ms = performance.now() - t0;
          let entry = sqlTimes.get(sql);
          if (!entry) {
            entry = { sql, n: 0, ms: 0, maxMs: 0 };
            sqlTimes.set(sql, entry);
          }
          entry.n++;
          entry.ms += ms;
          entry.maxMs = Math.max(entry.maxMs, ms);
        }
      };
    }
    return statement;
  };
}

const { config } = loadConfig({
  cwd: dataDir,
  env: {
    BULWARK_DATA_DIR: dataDir,
    BULWARK_HOST: '127.0.0.1',
    BULWARK_PORT: '0',
    BULWARK_LOG_LEVEL: 'silent',
    ...(databaseUrl ? { DATABASE_URL: databaseUrl, BULWARK_DB_SCHEMA: schema } : {}),
  },
});
const handle = await startServer(config, {
  logger: pino({ level: 'silent' }),
  // Cheap Argon2id as in-process tests use: only init hashes a passphrase here.
  argon2id: { memory: 8192, passes: 1, parallelism: 1 },
});

// Server time per request: from the HTTP server's `request` event to the response's `finish`.
const times: { method: string; path: string; ms: number }[] = [];
handle.app.server.prependListener('request', (req: IncomingMessage, res: ServerResponse) => {
  const t0 = performance.now();
  const method = req.method ?? '';
  const path = (req.url ?? '').split('?')[0] ?? '';
  res.on('finish', () => times.push({ method, path, ms: performance.now() - t0 }));
});

// Event-loop stalls: the server answers nothing (HTTP or socket) while one lasts.
const stalls: { at: number; ms: number }[] = [];
let tick = performance.now();
setInterval(() => {
  const now = performance.now();
  const late = now - tick - 10;
  if (late > 50) stalls.push({ at: performance.timeOrigin + tick, ms: late });
  tick = now;
}, 10).unref();

async function populate(groups: number, perGroup: number): Promise<PopulatedGroup[]> {
  const identity = handle.identity();
  const storage = identity.storage;
  const now = identity.clock.now();
  const orgs = new OrgStore(storage);
  await orgs.ensureDefault(now);
  const tag = randomBytes(3).toString('hex');
  const org = await orgs.create({ slug: `bench-${tag}`, name: 'Messaging bench' }, now);
  const projects = new ProjectStore(storage);
  const members = new MemberStore(storage);
  const out: PopulatedGroup[] = [];
  for (let g = 0; g < groups; g++) {
    const people: PopulatedGroup['people'] = [];
    for (let i = 0; i < perGroup; i++) {
      const username = `g${g}-p${i}-${tag}`;
      const user = await identity.users.create(
        {
          displayName: `Person ${i} of group ${g}`,
          username,
          email: `${username}@example.test`,
          orgId: org.id,
          orgRole: i === 0 && g === 0 ? 'owner' : 'member',
          isAdmin: false,
        },
        now,
      );
      const { token } = await identity.sessions.create(user.id, {
        kind: 'bearer',
        methods: ['passkey'],
        stepUp: true,
      });
      people.push({ userId: user.id, token });
    }
    const project = await projects.create(
      { orgId: org.id, key: `G${g}`, name: `Group ${g}`, description: null },
      now,
    );
    for (const [i, p] of people.entries()) {
      await members.put(
        {
          projectId: project.id,
          userId: p.userId,
          role: i === 0 ? 'owner' : 'member',
          viaLinkId: null,
        },
        people[0]?.userId as string,
        now,
      );
    }
    out.push({ projectId: project.id, people });
  }
  return out;
}

async function memory(settleMs: number) {
  // Several collections a little apart: sockets closed or opened just before leave
  // finalizers and weak references that only a later cycle frees.
  for (let i = 0; i < 4; i++) {
    gc?.();
    await sleep(settleMs / 4);
  }
  gc?.();
  const status = readFileSync('/proc/self/status', 'utf8');
  const kib = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  return { ...process.memoryUsage(), vmHwm: kib('VmHWM') * 1024, gcExposed: gc !== undefined };
}

let closing: Promise<void> | null = null;
function close(): Promise<void> {
  closing ??= shutDown();
  return closing;
}

async function shutDown(): Promise<void> {
  await handle.close();
  rmSync(dataDir, { recursive: true, force: true });
  if (databaseUrl) {
    const c = new pg.Client({ connectionString: databaseUrl });
    await c.connect();
    try {
      await c.query('select pg_advisory_lock($1)', [schemaChangeLock]);
      await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    } finally {
      await c.end();
    }
  }
}

process.on('message', (msg: HostRequest) => {
  const answer = async (): Promise<unknown> => {
    switch (msg.type) {
      case 'populate':
        return populate(msg.groups, msg.perGroup);
      case 'memory':
        return memory(msg.settleMs);
      case 'cpu':
        return process.cpuUsage();
      case 'timings': {
        const picked = times
          .filter((t) => t.method === msg.method && t.path.endsWith(msg.suffix))
          .map((t) => t.ms);
        times.length = 0;
        return picked;
      }
      case 'sql': {
        const top = [...sqlTimes.values()].sort((a, b) => b.ms - a.ms).slice(0, msg.top);
        const totalMs = [...sqlTimes.values()].reduce((a, b) => a + b.ms, 0);
        sqlTimes.clear();
        return { totalMs, top };
      }
      case 'stalls':
        return stalls.splice(0);
      case 'close':
        await close();
        return null;
    }
  };
  answer().then(
    (result) => {
      send({ id: msg.id, result });
      if (msg.type === 'close') process.disconnect();
    },
    (err: unknown) => send({ id: msg.id, error: String((err as Error)?.stack ?? err) }),
  );
});

// The parent going away (Ctrl-C, a crash) takes the server and its data with it.
process.on('disconnect', () => {
  void close()
    .catch(() => {})
    .finally(() => process.exit(0));
});

send({
  type: 'listening',
  url: handle.url,
  ca: readFileSync(join(dataDir, 'tls', 'ca.crt'), 'utf8'),
  storage: databaseUrl ? 'postgres' : 'sqlcipher',
  pid: process.pid,
});
