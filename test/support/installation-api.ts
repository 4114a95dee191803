/**
 * People and projects of a spawned installation, made the way a real one
 * gets them: over the HTTP API. A server in another process has no
 * in-process `identity()` to create users or sessions with, so the first
 * admin registers through the setup link, admins create accounts that
 * enrol a (software) passkey through their one-time link, and every bearer
 * session comes from a passkey login.
 */
import assert from 'node:assert/strict';
import { SoftAuthenticator } from '../../packages/server/src/identity/passkeys/soft-authenticator.ts';
import { type Answer, httpsRequest } from './https.ts';

export interface ApiTarget {
  /** `https://127.0.0.1:<port>` of the node to talk to. */
  url: string;
  /** PEM of the installation's CA. */
  ca: string;
}

export interface RequestOptions {
  method?: string;
  body?: unknown;
  /** A bearer session token (`bws_…`). */
  token?: string;
}

export function api(node: ApiTarget, path: string, opts: RequestOptions = {}): Promise<Answer> {
  return httpsRequest(`${node.url}${path}`, {
    ca: node.ca,
    ...(opts.method === undefined ? {} : { method: opts.method }),
    ...(opts.body === undefined ? {} : { body: opts.body }),
    ...(opts.token === undefined ? {} : { headers: { authorization: `Bearer ${opts.token}` } }),
  });
}

/** Like `api`, but the answer must have `status`; returns its JSON. */
export async function apiOk<T>(
  node: ApiTarget,
  path: string,
  status: number,
  opts: RequestOptions = {},
): Promise<T> {
  const answer = await api(node, path, opts);
  assert.equal(answer.status, status, `${opts.method ?? 'GET'} ${path}: ${answer.body}`);
  return answer.json as T;
}

export interface Person {
  id: string;
  username: string;
  /** The person's passkey: every `bearerSession` is a login with it. */
  passkey: SoftAuthenticator;
  /** The WebAuthn origin the ceremonies are made for (from the server's links). */
  origin: string;
}

/**
 * `POST /v1/sys/init`, then the first admin through the printed setup link
 * with a software passkey. The node must be uninitialised.
 */
export async function initWithFirstAdmin(
  node: ApiTarget,
  passphrase: string,
  who: { username: string; displayName: string },
): Promise<Person> {
  const init = await apiOk<{ setupUrl: string }>(node, '/v1/sys/init', 200, {
    method: 'POST',
    body: { passphrase },
  });
  const setupUrl = new URL(init.setupUrl);
  const token = setupUrl.hash.slice(1);
  const started = await apiOk<{
    challengeId: string;
    options: { challenge: string; rp: { id?: string }; user: { id: string } };
  }>(node, '/v1/auth/setup/options', 200, { method: 'POST', body: { token, ...who } });
  const passkey = new SoftAuthenticator();
  const verified = await apiOk<{ user: { id: string } }>(node, '/v1/auth/setup/verify', 200, {
    method: 'POST',
    body: {
      token,
      challengeId: started.challengeId,
      response: passkey.register(started.options, setupUrl.origin),
    },
  });
  return { id: verified.user.id, username: who.username, passkey, origin: setupUrl.origin };
}

/**
 * An account in the admin's org (`POST /v1/admin/users`), enrolled with a
 * software passkey through its one-time link.
 */
export async function createPerson(
  node: ApiTarget,
  adminToken: string,
  who: { username: string; displayName: string },
): Promise<Person> {
  const created = await apiOk<{ enrolUrl: string; user: { id: string } }>(
    node,
    '/v1/admin/users',
    201,
    { method: 'POST', token: adminToken, body: who },
  );
  const enrolUrl = new URL(created.enrolUrl);
  const token = enrolUrl.hash.slice(1);
  const started = await apiOk<{
    challengeId: string;
    options: { challenge: string; rp: { id?: string }; user: { id: string } };
  }>(node, '/v1/auth/enrol/options', 200, { method: 'POST', body: { token } });
  const passkey = new SoftAuthenticator();
  await apiOk(node, '/v1/auth/enrol/verify', 200, {
    method: 'POST',
    body: {
      token,
      challengeId: started.challengeId,
      response: passkey.register(started.options, enrolUrl.origin),
    },
  });
  return { id: created.user.id, username: who.username, passkey, origin: enrolUrl.origin };
}

/**
 * A new bearer session (`bws_…`) for the person: a passkey login with
 * `session: "bearer"`. Each messaging device needs its own session (a
 * session is bound to one device). Sessions live in the installation's
 * database, so one made on one node works on every node.
 */
export async function bearerSession(node: ApiTarget, person: Person): Promise<string> {
  const started = await apiOk<{
    challengeId: string;
    options: { challenge: string; rpId?: string };
  }>(node, '/v1/auth/passkey/login/options', 200, { method: 'POST', body: {} });
  const done = await apiOk<{ user: { id: string }; token?: string }>(
    node,
    '/v1/auth/passkey/login/verify',
    200,
    {
      method: 'POST',
      body: {
        challengeId: started.challengeId,
        response: person.passkey.assert(started.options, person.origin),
        session: 'bearer',
      },
    },
  );
  assert.equal(done.user.id, person.id, 'the login is for the person whose passkey signed it');
  assert.match(done.token ?? '', /^bws_[A-Za-z0-9_-]{43}$/);
  return done.token as string;
}

/** The admin's home org (the first admin's is the default org made at init). */
export async function homeOrg(node: ApiTarget, token: string): Promise<string> {
  const orgs = await apiOk<{ orgs: { id: string }[] }>(node, '/v1/orgs', 200, { token });
  const orgId = orgs.orgs[0]?.id;
  assert.ok(orgId, 'the admin sees an org');
  return orgId;
}

/** A project of `orgId` (its creator is its owner) with `members` added as members. */
export async function createProject(
  node: ApiTarget,
  ownerToken: string,
  orgId: string,
  project: { key: string; name: string },
  members: readonly string[],
): Promise<string> {
  const created = await apiOk<{ project: { id: string } }>(
    node,
    `/v1/orgs/${orgId}/projects`,
    201,
    { method: 'POST', token: ownerToken, body: project },
  );
  const projectId = created.project.id;
  for (const userId of members) {
    await apiOk(node, `/v1/projects/${projectId}/members/${userId}`, 200, {
      method: 'PUT',
      token: ownerToken,
      body: { role: 'member' },
    });
  }
  return projectId;
}
