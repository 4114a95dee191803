/**
 * The DNS directory's routes on an app of their own, bound to a running
 * test server's seal, identity and storage: the real guard, stores and
 * ledger, with the parts the composition root would supply (statistics
 * from the resolver, the snapshot listener, the public origin) replaced by
 * test doubles the test can read.
 */

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import type { FirewallPolicy } from '@bulwark/dns';
import pino from 'pino';
import { registerDnsRoutes } from '../../packages/server/src/dns/routes.ts';
import { DnsDirectoryService } from '../../packages/server/src/dns/service.ts';
import { buildApp } from '../../packages/server/src/http/app.ts';
import { buildWorld, givePasskey, type World } from './directory-world.ts';
import { type Answer, httpsRequest } from './https.ts';
import { postgresSchema } from './postgres.ts';
import { startTestServer, type TestServer } from './server.ts';
import { tempDir } from './temp.ts';

export const dnsPublicOrigin = 'https://dns.example.test';
/** What the fake statistics callback answers for every org. */
export const fakeStats = { queries: 42, blocked: 7, topBlocked: { ads: ['ads.example'] } };

export interface DnsApp {
  dns: DnsDirectoryService;
  /** How many times the service reported a committed change. */
  changes(): number;
  /** The orgs the statistics callback was asked about. */
  statsAskedFor: string[];
  request(
    path: string,
    token: string | null,
    opts?: { method?: string; body?: unknown },
  ): Promise<Answer>;
}

export async function startDnsApp(
  t: TestContext,
  server: TestServer,
  opts: { allowedRanges?: string[] } = {},
): Promise<DnsApp> {
  const handle = server.handle;
  let changes = 0;
  const statsAskedFor: string[] = [];
  const dns = new DnsDirectoryService({
    identity: () => handle.identity(),
    ledger: () => handle.ledger(),
    publicOrigin: () => dnsPublicOrigin,
    onChange: () => {
      changes += 1;
    },
    ...(opts.allowedRanges ? { allowedRanges: () => opts.allowedRanges ?? null } : {}),
  });
  const tlsDir = join(server.dataDir, 'tls');
  const app = await buildApp({
    tls: {
      key: readFileSync(join(tlsDir, 'server.key'), 'utf8'),
      cert: readFileSync(join(tlsDir, 'server.crt'), 'utf8'),
    },
    seal: handle.seal,
    logger: pino({ level: 'silent' }),
    metricsEnabled: false,
    version: 'test',
    allowRemoteInit: false,
    identity: () => handle.identity(),
    routes: [
      registerDnsRoutes({
        dns,
        stats: (orgId) => {
          statsAskedFor.push(orgId);
          return fakeStats;
        },
      }),
    ],
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  t.after(() => app.close());
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    dns,
    changes: () => changes,
    statsAskedFor,
    request: (path, token, o = {}) =>
      httpsRequest(`https://127.0.0.1:${port}${path}`, {
        ca: server.ca,
        ...o,
        ...(token ? { headers: { authorization: `Bearer ${token}` } } : {}),
      }),
  };
}

export interface RecordJson {
  id: string;
  zoneId: string;
  name: string;
  type: string;
  ttl: number;
  data: string;
}
export interface ZoneJson {
  id: string;
  name: string;
  records: RecordJson[];
}
export interface GroupJson {
  id: string;
  projectId: string | null;
  name: string;
  sourceCidrs: string[];
  policy: FirewallPolicy;
}
export interface ClientJson {
  id: string;
  groupId: string;
  name: string;
  certFingerprint: string | null;
  createdAt: string;
  revokedAt: string | null;
}

interface CallOptions {
  method?: string;
  body?: unknown;
}

export interface DnsWorld {
  server: TestServer;
  world: World;
  app: DnsApp;
  /** Acme's admin and owner (stepped up), Acme's plain member, Initech's admin (stepped up). */
  admin: string;
  owner: string;
  member: string;
  otherAdmin: string;
  call(token: string | null, path: string, opts?: CallOptions): Promise<Answer>;
  /** Like call, asserting the status; returns the JSON. */
  ok<T = Record<string, unknown>>(
    token: string,
    path: string,
    status: number,
    opts?: CallOptions,
  ): Promise<T>;
  /** The ledger's entries, oldest first. */
  ledger(): Promise<{ action: string; org: string | null; target: { type: string; id: string } }[]>;
}

/** The error of an answer, or {} when it has none. */
export function errorOf(answer: Answer): { code?: string; message?: string } {
  try {
    return (JSON.parse(answer.body) as { error?: { code?: string; message?: string } }).error ?? {};
  } catch {
    return {};
  }
}

/**
 * A server with the directory world (Acme owns Apollo, Initech is another
 * tenant), an admin of Initech, and the DNS app bound to it. null when the
 * PostgreSQL variant is skipped (outside CI).
 */
export async function dnsWorld(
  t: TestContext,
  backend: 'sqlite' | 'postgres',
): Promise<DnsWorld | null> {
  const pg = backend === 'postgres' ? await postgresSchema(t) : null;
  if (backend === 'postgres' && !pg) return null;
  const server = await startTestServer(t, { dataDir: tempDir(t), postgres: pg });
  const init = await server.request('/v1/sys/init', {
    method: 'POST',
    body: { passphrase: 'dns api passphrase' },
  });
  assert.equal(init.status, 200, init.body);
  const world = await buildWorld(server);
  const identity = server.handle.identity();
  const initechAdmin = await identity.users.create({
    displayName: 'Initech admin',
    username: `initech-admin-${world.initech.slice(0, 8)}`,
    orgId: world.initech,
    orgRole: 'admin',
  });
  const { token: otherAdmin } = await identity.sessions.create(initechAdmin.id, {
    kind: 'bearer',
    methods: ['passkey'],
    stepUp: true,
  });
  // Admins hold a passkey, so policy changes the tests make do not lock them out.
  for (const id of [world.people.orgOwner.id, world.people.orgAdmin.id, initechAdmin.id]) {
    await givePasskey(server, id, 'adce0002-35bc-c60a-648b-0b25f1f05503');
  }
  const app = await startDnsApp(t, server);
  const call = (token: string | null, path: string, opts: CallOptions = {}) =>
    app.request(path, token, opts);
  return {
    server,
    world,
    app,
    admin: world.people.orgAdmin.token as string,
    owner: world.people.orgOwner.token as string,
    member: world.people.internalMember.token as string,
    otherAdmin,
    call,
    ok: async <T>(token: string, path: string, status: number, opts: CallOptions = {}) => {
      const answer = await call(token, path, opts);
      assert.equal(answer.status, status, `${opts.method ?? 'GET'} ${path}: ${answer.body}`);
      return (answer.body === '' ? {} : JSON.parse(answer.body)) as T;
    },
    ledger: async () => {
      const rows = await server.handle
        .storage()
        .db.selectFrom('audit_entries')
        .select('entry')
        .orderBy('seq')
        .execute();
      return rows.map((r) => JSON.parse(r.entry));
    },
  };
}
