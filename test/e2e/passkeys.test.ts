/**
 * Passkeys end to end, in real Chromium with a virtual authenticator: the
 * first admin registers through the setup link printed at init, logs out,
 * logs in with the discoverable passkey; replayed and tampered assertions,
 * a reused setup link and removing the last passkey are refused.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { setTimeout } from 'node:timers/promises';
import type { Page } from 'playwright-core';
import { launchBrowser } from '../support/browser.ts';
import { startTestServer } from '../support/server.ts';
import { tempDir } from '../support/temp.ts';

interface PageAnswer {
  status: number;
  json: unknown;
}

/** fetch() from inside the page: same origin, with the page's cookies. */
function call(page: Page, method: string, path: string, body?: unknown): Promise<PageAnswer> {
  return page.evaluate(
    async ({ method, path, body }) => {
      const res = await fetch(path, {
        method,
        credentials: 'same-origin',
        ...(body === undefined
          ? {}
          : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
      });
      const text = await res.text();
      return { status: res.status, json: text ? JSON.parse(text) : null };
    },
    { method, path, body },
  );
}

/** The status line once the ceremony finished (success or a shown error). */
async function settledStatus(page: Page): Promise<string> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const text = (await page.locator('#status').textContent()) ?? '';
    if (text !== '' && !text.startsWith('Waiting')) return text;
    await setTimeout(100);
  }
  throw new Error('the page did not finish the passkey ceremony in 20 s');
}

const codeOf = (a: PageAnswer) => (a.json as { error?: { code?: string } } | null)?.error?.code;

describe('passkeys in Chromium', () => {
  it('first admin setup, logout, discoverable login, replay and tamper refusal, last passkey kept', async (t) => {
    const dataDir = tempDir(t);
    const server = await startTestServer(t, { dataDir });
    const init = await server.request('/v1/sys/init', {
      method: 'POST',
      body: { passphrase: 'end to end passkey passphrase' },
    });
    assert.equal(init.status, 200, init.body);
    const { setupUrl, expiresAt, operatorTokenFile } = init.json as {
      setupUrl: string;
      expiresAt: string;
      operatorTokenFile: string;
    };
    const port = new URL(server.handle.url).port;
    assert.match(setupUrl, new RegExp(`^https://localhost:${port}/setup#[A-Za-z0-9_-]{43}$`));
    assert.ok(Date.parse(expiresAt) > Date.now() + 29 * 60_000, 'valid for 30 minutes');
    const operator = readFileSync(operatorTokenFile, 'utf8').trim();

    const b = await launchBrowser(t, dataDir);
    if (!b) return;
    const { page } = b;

    // --- setup: register the first admin's passkey --------------------------
    await page.goto(setupUrl);
    assert.equal(new URL(page.url()).hash, '', 'the token is dropped from the address bar');
    await page.getByLabel('Your name').fill('Ada Admin');
    await page.getByLabel('Username').fill('ada');
    await page.getByLabel('Name for this passkey').fill('Virtual key');
    await page.getByRole('button', { name: 'Create account and passkey' }).click();
    await page.locator('#done').waitFor({ state: 'visible', timeout: 20_000 });
    assert.match((await page.locator('#status').textContent()) ?? '', /Welcome, Ada Admin/);

    const me = await call(page, 'GET', '/v1/me');
    assert.equal(me.status, 200, JSON.stringify(me.json));
    const meBody = me.json as {
      user: { displayName: string; username: string; isAdmin: boolean };
      methods: string[];
    };
    assert.equal(meBody.user.displayName, 'Ada Admin');
    assert.equal(meBody.user.username, 'ada');
    assert.equal(meBody.user.isAdmin, true);
    assert.deepEqual(meBody.methods, ['passkey']);

    const listed = await call(page, 'GET', '/v1/me/passkeys');
    assert.equal(listed.status, 200);
    const passkeys = (
      listed.json as { passkeys: { id: string; name: string; aaguid: string; backedUp: boolean }[] }
    ).passkeys;
    assert.equal(passkeys.length, 1);
    assert.equal(passkeys[0]?.name, 'Virtual key');

    // --- the setup link is dead ------------------------------------------------
    const token = setupUrl.split('#')[1] ?? '';
    const reuse = await server.request('/v1/auth/setup/options', {
      method: 'POST',
      body: { token, displayName: 'Mallory', username: 'mallory' },
    });
    assert.equal(reuse.status, 410, reuse.body);
    assert.equal((reuse.json as { error: { code: string } }).error.code, 'link_invalid');
    await page.goto('about:blank'); // else only the fragment changes and the page stays
    await page.goto(setupUrl);
    await page.getByLabel('Your name').fill('Mallory');
    await page.getByLabel('Username').fill('mallory');
    await page.getByRole('button', { name: 'Create account and passkey' }).click();
    await page.locator('#status.error').waitFor({ timeout: 10_000 });
    assert.match((await page.locator('#status').textContent()) ?? '', /not valid any more/);
    // …and no new link while an admin exists.
    const another = await server.request('/v1/sys/setup-link', {
      method: 'POST',
      headers: { authorization: `Bearer ${operator}` },
    });
    assert.equal(another.status, 403, another.body);

    // --- log out ---------------------------------------------------------------
    await page.goto(`${server.handle.url.replace('127.0.0.1', 'localhost')}/login`);
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.getByRole('button', { name: 'Log in with a passkey' }).waitFor({ state: 'visible' });
    assert.equal((await call(page, 'GET', '/v1/me')).status, 401);

    // --- log in with the discoverable passkey, capturing the assertion ---------
    let captured: string | null = null;
    page.on('request', (req) => {
      if (req.url().endsWith('/v1/auth/passkey/login/verify')) captured = req.postData();
    });
    await page.getByRole('button', { name: 'Log in with a passkey' }).click();
    assert.equal(await settledStatus(page), 'Logged in.');
    assert.equal((await call(page, 'GET', '/v1/me')).status, 200);
    assert.ok(captured, 'the login verify request was seen');
    const used = (await call(page, 'GET', '/v1/me/passkeys')).json as {
      passkeys: { lastUsedAt: string | null }[];
    };
    assert.ok(used.passkeys[0]?.lastUsedAt, 'last use recorded');

    // --- a replayed assertion is refused -----------------------------------------
    const replay = await call(page, 'POST', '/v1/auth/passkey/login/verify', JSON.parse(captured));
    assert.equal(replay.status, 401, JSON.stringify(replay.json));
    assert.equal(codeOf(replay), 'login_failed');

    // --- a tampered clientDataJSON (origin changed) is refused ------------------
    let tampered: PageAnswer | null = null;
    await page.route('**/v1/auth/passkey/login/verify', async (route) => {
      const body = JSON.parse(route.request().postData() ?? '{}') as {
        response: { response: { clientDataJSON: string } };
      };
      const clientData = JSON.parse(
        Buffer.from(body.response.response.clientDataJSON, 'base64url').toString('utf8'),
      ) as { origin: string };
      clientData.origin = 'https://evil.example';
      body.response.response.clientDataJSON = Buffer.from(JSON.stringify(clientData)).toString(
        'base64url',
      );
      // Sent on by the browser itself (it trusts the server; Playwright's own fetch would not).
      await route.continue({ postData: JSON.stringify(body) });
    });
    await page.getByRole('button', { name: 'Log out' }).click();
    const answered = page.waitForResponse((r) => r.url().endsWith('/v1/auth/passkey/login/verify'));
    await page.getByRole('button', { name: 'Log in with a passkey' }).click();
    const answer = await answered;
    tampered = { status: answer.status(), json: await answer.json() };
    assert.match(await settledStatus(page), /^Login failed/);
    await page.unroute('**/v1/auth/passkey/login/verify');
    assert.ok(tampered, 'the tampered request was sent');
    assert.equal((tampered as PageAnswer).status, 401);
    assert.equal(codeOf(tampered), 'login_failed');
    assert.equal(
      (await call(page, 'GET', '/v1/me')).status,
      401,
      'no session from the tampered login',
    );

    // --- log in again; the last passkey cannot be removed -----------------------
    await page.getByRole('button', { name: 'Log in with a passkey' }).click();
    assert.equal(await settledStatus(page), 'Logged in.');
    const id = passkeys[0]?.id ?? '';
    const removal = await call(page, 'DELETE', `/v1/me/passkeys/${encodeURIComponent(id)}`);
    assert.equal(removal.status, 409, JSON.stringify(removal.json));
    assert.equal(codeOf(removal), 'last_factor');
    assert.equal(
      ((await call(page, 'GET', '/v1/me/passkeys')).json as { passkeys: unknown[] }).passkeys
        .length,
      1,
    );

    // Renaming is allowed without a step-up.
    const renamed = await call(page, 'PATCH', `/v1/me/passkeys/${encodeURIComponent(id)}`, {
      name: 'Laptop',
    });
    assert.equal(renamed.status, 200, JSON.stringify(renamed.json));
    assert.equal((renamed.json as { passkey: { name: string } }).passkey.name, 'Laptop');
  });

  it('a user an admin created enrols with the one-time link, logs in, and is cut off when disabled', async (t) => {
    const dataDir = tempDir(t);
    const server = await startTestServer(t, { dataDir });
    await server.request('/v1/sys/init', {
      method: 'POST',
      body: { passphrase: 'enrolment e2e passphrase' },
    });
    // The admin acts over the API with a stepped-up bearer session.
    const identity = server.handle.identity();
    const admin = await identity.users.create({
      displayName: 'Root',
      username: 'root',
      isAdmin: true,
      orgRole: 'owner',
    });
    const adminSession = await identity.sessions.create(admin.id, {
      kind: 'bearer',
      methods: ['passkey'],
      stepUp: true,
    });
    const asAdmin = { authorization: `Bearer ${adminSession.token}` };
    const created = await server.request('/v1/admin/users', {
      method: 'POST',
      headers: asAdmin,
      body: { displayName: 'Eve Enrolled', username: 'eve' },
    });
    assert.equal(created.status, 201, created.body);
    const { enrolUrl, user } = created.json as { enrolUrl: string; user: { id: string } };
    assert.match(enrolUrl, /\/enrol#[A-Za-z0-9_-]{43}$/);

    const b = await launchBrowser(t, dataDir);
    if (!b) return;
    const { page } = b;
    await page.goto(enrolUrl);
    assert.equal(new URL(page.url()).hash, '', 'the token is dropped from the address bar');
    await page.getByLabel('Name for this passkey').fill('Eve key');
    await page.getByRole('button', { name: 'Create my passkey' }).click();
    assert.match(await settledStatus(page), /Welcome, Eve Enrolled/);
    const me = await call(page, 'GET', '/v1/me');
    assert.equal(me.status, 200);
    assert.equal((me.json as { user: { id: string } }).user.id, user.id);

    // The link is dead now.
    const token = new URL(enrolUrl).hash.slice(1);
    const again = await call(page, 'POST', '/v1/auth/enrol/options', { token });
    assert.equal(codeOf(again), 'link_invalid');

    // Log in afresh with the new passkey.
    await call(page, 'POST', '/v1/auth/logout', {});
    await page.goto(`${new URL(enrolUrl).origin}/login`);
    await page.getByRole('button', { name: 'Log in with a passkey' }).click();
    assert.equal(await settledStatus(page), 'Logged in.');

    // Disabled by the admin: the live session stops at once.
    const disabled = await server.request(`/v1/admin/users/${user.id}/status`, {
      method: 'PUT',
      headers: asAdmin,
      body: { status: 'disabled' },
    });
    assert.equal(disabled.status, 200, disabled.body);
    assert.equal((await call(page, 'GET', '/v1/me')).status, 401);

    // Every step is in the audit ledger, attributed to whoever did it.
    const ledger = await server.request('/v1/audit/entries?limit=1000', { headers: asAdmin });
    const entries = (
      ledger.json as { entries: { entry: { action: string; actor: { userId: string | null } } }[] }
    ).entries;
    const by = (action: string) =>
      entries.filter((e) => e.entry.action === action).map((e) => e.entry.actor.userId);
    assert.deepEqual(by('user.create'), [admin.id]);
    assert.ok(by('passkey.add').includes(user.id));
    assert.ok(by('session.create').includes(user.id));
    assert.ok(by('session.logout').includes(user.id));
    assert.deepEqual(by('user.status'), [admin.id]);
  });

  it('an invitation accepted as a guest leads to passkey enrolment and an external membership', async (t) => {
    const dataDir = tempDir(t);
    const server = await startTestServer(t, { dataDir });
    await server.request('/v1/sys/init', {
      method: 'POST',
      body: { passphrase: 'invitation e2e passphrase' },
    });
    const identity = server.handle.identity();
    const owner = await identity.users.create({
      displayName: 'Olga Owner',
      username: 'olga',
      orgRole: 'owner',
    });
    const session = await identity.sessions.create(owner.id, {
      kind: 'bearer',
      methods: ['passkey'],
      stepUp: true,
    });
    const asOwner = { authorization: `Bearer ${session.token}` };
    const orgId = (await identity.users.get(owner.id))?.orgId ?? '';
    const project = await server.request(`/v1/orgs/${orgId}/projects`, {
      method: 'POST',
      headers: asOwner,
      body: { key: 'APOLLO', name: 'Apollo' },
    });
    assert.equal(project.status, 201, project.body);
    const projectId = (project.json as { project: { id: string } }).project.id;
    const invited = await server.request(`/v1/projects/${projectId}/invitations`, {
      method: 'POST',
      headers: asOwner,
      body: { email: 'gail@partner.test', role: 'member' },
    });
    assert.equal(invited.status, 201, invited.body);
    const { acceptUrl } = invited.json as { acceptUrl: string };

    const b = await launchBrowser(t, dataDir);
    if (!b) return;
    const { page } = b;
    await page.goto(acceptUrl);
    assert.equal(new URL(page.url()).hash, '', 'the token is dropped from the address bar');
    await page.getByLabel('Your name').fill('Gail Guest');
    await page.getByLabel('Username').fill('gail');
    await page.getByRole('button', { name: 'Join as a guest' }).click();
    await page.waitForURL(/\/enrol$/);
    await page.getByLabel('Name for this passkey').fill('Gail key');
    await page.getByRole('button', { name: 'Create my passkey' }).click();
    assert.match(await settledStatus(page), /Welcome, Gail Guest/);

    // Signed in as the guest: the project is there, as an external membership.
    const seen = await call(page, 'GET', `/v1/projects/${projectId}`);
    assert.equal(seen.status, 200, JSON.stringify(seen.json));
    assert.deepEqual(
      [(seen.json as { kind: string }).kind, (seen.json as { role: string }).role],
      ['external', 'member'],
    );
    // A guest is nobody in the org itself.
    assert.equal((await call(page, 'GET', `/v1/orgs/${orgId}/groups`)).status, 403);
    // The invitation was single use.
    const token = new URL(acceptUrl).hash.slice(1);
    const again = await call(page, 'POST', '/v1/invitations/accept-as-guest', {
      token,
      displayName: 'Mallory',
      username: 'mallory',
    });
    assert.equal(codeOf(again), 'link_invalid');
  });
});
