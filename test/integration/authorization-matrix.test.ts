/**
 * SECURITY.md (Authorization): walks every registered route with every
 * persona of the directory world and asserts the answer the table next to
 * this file expects. A route without a row, or a row without a route, fails.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { registeredRoutes } from '../../packages/server/src/http/app.ts';
import { buildWorld, personas, type World } from '../support/directory-world.ts';
import type { Answer } from '../support/https.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { tempDir } from '../support/temp.ts';
import { matrix } from './authorization-matrix.table.ts';

/**
 * Successful non-GET routes that change no lasting state: ceremony steps
 * that hand out a one-time challenge (the step that uses it is recorded),
 * and ledger maintenance that is itself the record.
 */
const notChanges = new Set([
  'POST /v1/auth/setup/options',
  'POST /v1/auth/enrol/options',
  'POST /v1/auth/passkey/login/options',
  'POST /v1/auth/step-up/options',
  'POST /v1/me/passkeys/options',
  // A pending TOTP secret signs in nothing until confirmed; the confirmation is recorded.
  'POST /v1/me/totp',
  'POST /v1/audit/checkpoint',
  // Messaging plumbing: challenges, bindings and key packages are no change to the directory;
  // messages and attachments are ciphertext (the ledger records devices and rosters).
  'POST /v1/messaging/devices/:deviceId/challenge',
  'POST /v1/messaging/devices/:deviceId/bind',
  'POST /v1/messaging/devices/:deviceId/key-packages',
  'POST /v1/conversations/:conversationId/key-packages/claim',
  'POST /v1/conversations/:conversationId/messages',
  'POST /v1/conversations/:conversationId/attachments',
]);

async function ledgerSize(server: TestServer): Promise<number> {
  const row = await server.handle
    .storage()
    .db.selectFrom('audit_entries')
    .select((eb) => eb.fn.countAll<string | number>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

const guardNotFound =
  /^No such (org|project|group|partner link|invitation|user|issue|column|conversation)\.$/;

function errorOf(answer: Answer): { code?: string; message?: string } {
  try {
    return (JSON.parse(answer.body) as { error?: { code?: string; message?: string } }).error ?? {};
  } catch {
    return {};
  }
}

/** What the guard decided, read from the answer. */
function outcome(answer: Answer): 'A' | 'U' | 'F' | 'N' | string {
  const { code, message } = errorOf(answer);
  if (answer.status === 401 && code === 'unauthenticated') return 'U';
  if (answer.status === 403 && code === 'forbidden') return 'F';
  if (answer.status === 403 && code === 'policy_unsatisfied') return 'P';
  if (answer.status === 404 && code === 'not_found' && guardNotFound.test(message ?? ''))
    return 'N';
  // Anything a passing guard lets through; these three would mean the world is set up wrong.
  if (code === 'step_up_required' || code === 'sealed') {
    return `${answer.status} ${code}`;
  }
  return 'A';
}

function pathFor(url: string, world: World): string {
  return url
    .replace(':orgId', world.acme)
    .replace(':projectId', world.apollo)
    .replace(':userId', world.people.internalMember.id)
    .replace(':issueId', world.issue)
    .replace(':columnId', world.column)
    .replace(':conversationId', world.conversation)
    .replace(':deviceId', randomUUID())
    .replace(':attachmentId', randomUUID())
    .replace(':groupId', world.group)
    .replace(':linkId', world.link)
    .replace(':invitationId', world.invitation)
    .replace(':memberKind', 'user')
    .replace(':memberId', world.people.internalMember.id)
    .replace(':connector', 'corp')
    .replace(':viewId', randomUUID())
    .replace(':zoneId', randomUUID())
    .replace(':recordId', randomUUID())
    .replace(':clientGroupId', randomUUID())
    .replace(':clientId', randomUUID())
    .replace(':id', randomUUID());
}

async function readyServer(t: Parameters<typeof startTestServer>[0]): Promise<TestServer> {
  const server = await startTestServer(t, {
    dataDir: tempDir(t),
    config: {
      metrics: { enabled: true },
      auth: { passwords: true, sms: { enabled: true, provider: 'dev-log' } },
    },
  });
  const init = await server.request('/v1/sys/init', {
    method: 'POST',
    body: { passphrase: 'authorization matrix passphrase' },
  });
  assert.equal(init.status, 200, init.body);
  return server;
}

describe('authorization matrix', () => {
  it('every registered route has a row, and every row a route', async (t) => {
    const server = await readyServer(t);
    const registered = new Set(
      registeredRoutes(server.handle.app)
        .filter((r) => r.method !== 'HEAD')
        .map((r) => `${r.method} ${r.url}`),
    );
    assert.deepEqual(
      [...registered].filter((r) => !(r in matrix)),
      [],
      'routes without a row in authorization-matrix.table.ts',
    );
    assert.deepEqual(
      Object.keys(matrix).filter((r) => !registered.has(r)),
      [],
      'rows for routes that do not exist',
    );
    for (const [route, row] of Object.entries(matrix)) {
      assert.match(row, /^([AUFNP] ){9}[AUFNP]$/, `${route}: one of A U F N P per persona`);
    }
  });

  it('each persona gets the expected answer on every route', async (t) => {
    const server = await readyServer(t);
    let world = await buildWorld(server);
    const mismatches: string[] = [];
    const unrecorded: string[] = [];
    const routes = registeredRoutes(server.handle.app).filter((r) => r.method !== 'HEAD');
    for (const route of routes) {
      const key = `${route.method} ${route.url}`;
      const expected = (matrix[key] ?? '').split(' ');
      for (const [i, persona] of personas.entries()) {
        const path = pathFor(route.url, world);
        const before = await ledgerSize(server);
        const answer = await world.call(persona, path, {
          method: route.method,
          ...(route.method === 'GET' || route.method === 'DELETE' ? {} : { body: {} }),
        });
        const got = outcome(answer);
        // A change that succeeded left its ledger entry (issue 5: every state change is recorded).
        const succeeded = answer.status >= 200 && answer.status < 300;
        if (route.method !== 'GET' && succeeded && !notChanges.has(key)) {
          if ((await ledgerSize(server)) <= before) {
            unrecorded.push(`${key} as ${persona} (${answer.status})`);
          }
        }
        if (got !== expected[i]) {
          mismatches.push(
            `${key} as ${persona}: expected ${expected[i]}, got ${got} (${answer.status} ${answer.body.slice(0, 160)})`,
          );
        }
        // A change that went through may have altered the world: the next persona gets a fresh one.
        if (got === 'A' && route.method !== 'GET') world = await buildWorld(server);
      }
    }
    assert.deepEqual(mismatches, []);
    assert.deepEqual(unrecorded, [], 'changes that wrote no ledger entry');
  });

  it('what an actor may not know answers exactly like an id that was never used', async (t) => {
    const server = await readyServer(t);
    const world = await buildWorld(server);
    const checks: [string, string][] = [
      [`/v1/projects/${world.apollo}`, '/v1/projects/'],
      [`/v1/projects/${world.apollo}/members`, '/v1/projects/:x/members'],
      [`/v1/orgs/${world.acme}`, '/v1/orgs/'],
      [`/v1/groups/${world.group}`, '/v1/groups/'],
    ];
    for (const [real] of checks) {
      const never = real.replace(/[0-9a-f-]{36}/, randomUUID());
      const a = await world.call('unrelated', real);
      const b = await world.call('unrelated', never);
      assert.equal(a.status, 404, `${real}: ${a.body}`);
      assert.deepEqual([a.status, a.body], [b.status, b.body], real);
    }
  });
});
