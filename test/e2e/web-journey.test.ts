/**
 * The web client end to end: the real server, Debian's Chromium, one
 * browser context per person, each with a passkey (CDP virtual
 * authenticator with PRF). One journey: init → the first admin's passkey →
 * an org and a project → a partner org whose owner enrols → partner link and
 * invitation → the external person signs in with a passkey → encrypted chat
 * → board edits seen live by the other → the external goes offline, edits
 * and writes, comes back and everything syncs → the admin verifies the
 * audit trail in the browser. Then what goes wrong, each shown in plain
 * words with nothing lost from the outbox: a tampered ledger head, a policy
 * tightened while signed in, the server sealed mid-session, the session
 * revoked, the server unreachable at start. Key screens again at a
 * 390×844 phone viewport. Every screen visited is checked with axe-core,
 * for CSP violations, and photographed into test-output/web/.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Secret, TOTP } from 'otpauth';
import type { Browser, Locator, Page } from 'playwright-core';
import { startTestServer, type TestServer } from '../support/server.ts';
import { tempDir } from '../support/temp.ts';
import {
  checkScreen,
  launchChromium,
  newPerson,
  type Person,
  screenshot,
} from '../support/web-client.ts';

const passphrase = 'journey passphrase for the root key';

/**
 * Confirms every step-up prompt as it appears (the virtual authenticator
 * answers at once), the way a person touches their key when asked.
 */
function autoConfirmStepUp(person: Person): () => void {
  let running = true;
  void (async () => {
    while (running) {
      try {
        const dialog = person.page.getByRole('dialog', { name: "Confirm it's you" });
        if (await dialog.isVisible())
          await dialog.getByRole('button', { name: 'Confirm with my passkey' }).click();
      } catch {
        // navigation in progress or the page closed: try again
      }
      await sleep(200);
    }
  })();
  return () => {
    running = false;
  };
}

async function visible(locator: Locator, timeout = 20_000): Promise<void> {
  await locator.first().waitFor({ state: 'visible', timeout });
}

async function signInWithPasskey(page: Page): Promise<void> {
  await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
  await visible(page.getByRole('navigation', { name: 'Main' }));
}

/** The offline copy opens at sign-in with the passkey's PRF; otherwise unlock it from the banner. */
async function unlockOfflineCopy(page: Page): Promise<void> {
  const banner = page.getByText('Offline copy locked');
  if (await banner.isVisible()) {
    await page.getByRole('button', { name: 'Unlock with your passkey' }).click();
    await banner.waitFor({ state: 'hidden', timeout: 20_000 }).catch(async (error: unknown) => {
      const text = await page.locator('.banner').allTextContents();
      throw new Error(`the offline copy did not open: ${text.join(' | ')}`, { cause: error });
    });
  }
}

/** A link of the main navigation (sidebar, or the menu on phones). */
function nav(page: Page, name: string | RegExp): Locator {
  return page
    .getByRole('navigation', { name: 'Main' })
    .getByRole('link', { name, exact: typeof name === 'string' });
}

function card(page: Page, title: string): Locator {
  return page
    .getByRole('listitem')
    .filter({ has: page.getByRole('heading', { name: new RegExp(title) }) });
}

describe('web client', () => {
  it('the whole journey, and what goes wrong on the way', async (t) => {
    const dataDir = tempDir(t);
    const server = await startTestServer(t, { dataDir });
    const origin = `https://localhost:${new URL(server.handle.url).port}`;
    const browser = await launchChromium(t, dataDir);
    if (!browser) return;

    // --- init and the first admin ------------------------------------------------
    const people: Person[] = [];
    try {
      await journey(t, { dataDir, server, origin, browser, people });
    } catch (error) {
      // Each person's screen as it was: the fastest way to see why.
      for (const person of people)
        await screenshot(person.page, `failure-${person.name}`).catch(() => {});
      throw error;
    }
  });
});

async function journey(
  t: TestContext,
  {
    dataDir,
    server,
    origin,
    browser,
    people,
  }: {
    dataDir: string;
    server: TestServer;
    origin: string;
    browser: Browser;
    people: Person[];
  },
): Promise<void> {
  const ada = await newPerson(browser, 'ada');
  people.push(ada);
  const stopAda = autoConfirmStepUp(ada);
  t.after(stopAda);
  const page = ada.page;
  await page.goto(`${origin}/`);
  await visible(page.getByRole('heading', { name: 'Set up this Bulwark server' }));
  await checkScreen(ada, '01-init');
  await page.getByLabel('Passphrase', { exact: true }).fill(passphrase);
  await page.getByLabel('Passphrase again').fill(passphrase);
  await page.getByRole('button', { name: 'Initialise the server' }).click();
  await page.getByLabel('Your name').fill('Ada Admin');
  await page.getByLabel('Username').fill('ada');
  await page.getByRole('button', { name: 'Create my passkey' }).click();
  await visible(page.getByRole('navigation', { name: 'Main' }));
  await unlockOfflineCopy(page);
  await checkScreen(ada, '02-home-admin');
  const operatorToken = readFileSync(`${dataDir}/operator.token`, 'utf8').trim();

  // --- a partner org, with its owner's one-time enrolment link ------------------
  await nav(page, 'Organisations').click();
  await page.getByRole('button', { name: 'New organisation' }).click();
  await page.getByLabel('Name', { exact: true }).fill('Globex');
  await page.getByLabel('Slug').fill('globex');
  await page.getByLabel('Owner’s name').fill('Gus Globex');
  await page.getByLabel('Owner’s username').fill('gus');
  await page.getByLabel('Owner’s e-mail address (optional)').fill('gus@globex.example');
  await page.getByRole('button', { name: 'Create organisation' }).click();
  const enrolLink = page.getByLabel('One-time link');
  await visible(enrolLink);
  const enrolUrl = await enrolLink.inputValue();
  assert.match(enrolUrl, /\/enrol#/);
  await checkScreen(ada, '03-orgs');

  // --- a project in the admin's org ----------------------------------------------
  await nav(page, 'Home').click();
  await page.getByRole('link', { name: 'Create a project' }).first().click();
  await page.getByLabel('Name', { exact: true }).fill('Apollo');
  await page.getByLabel('Key', { exact: true }).fill('APOLLO');
  await page.getByRole('button', { name: 'Create project' }).click();
  const projectLink = nav(page, /APOLLO/);
  await visible(projectLink);
  await projectLink.click();
  await visible(page.getByRole('heading', { name: 'APOLLO · Apollo' }));
  const projectUrl = page.url();

  // --- the partner org's owner enrols with the link ------------------------------
  const gus = await newPerson(browser, 'gus');
  people.push(gus);
  const stopGus = autoConfirmStepUp(gus);
  t.after(stopGus);
  await gus.page.goto(enrolUrl);
  await gus.page.getByLabel('Name for this passkey').fill('Gus laptop');
  await gus.page.getByRole('button', { name: 'Create my passkey' }).click();
  await visible(gus.page.getByRole('link', { name: 'Open Bulwark' }));

  // --- partner link: Ada proposes, Gus (Globex's owner) accepts ----------------
  await page
    .getByRole('navigation', { name: 'Project' })
    .getByRole('link', { name: 'Members' })
    .click();
  await page.getByLabel('Partner organisation’s slug').fill('globex');
  await page.getByRole('button', { name: 'Create partner link' }).click();
  await visible(page.getByText(/pending/i));
  await checkScreen(ada, '04-project-members');

  await gus.page.goto(`${origin}/`);
  await visible(gus.page.getByRole('navigation', { name: 'Main' }));
  await unlockOfflineCopy(gus.page);
  await nav(gus.page, 'Organisations').click();
  await gus.page
    .getByRole('main')
    .getByRole('link', { name: 'Globex', exact: true })
    .first()
    .click();
  await gus.page.getByRole('link', { name: 'Partner links' }).click();
  await gus.page
    .getByRole('button', { name: /^Accept/ })
    .first()
    .click();
  await gus.page.getByRole('dialog').getByRole('button', { name: 'Accept link' }).click();
  await visible(gus.page.getByText(/active/i));
  await checkScreen(gus, '05-partner-links');

  // --- Ada invites Gus by e-mail; Gus accepts with his account --------------------
  await page.getByLabel('E-mail address or domain').fill('gus@globex.example');
  await page.getByRole('button', { name: 'Create invitation' }).click();
  const acceptLink = page.getByLabel('One-time link');
  await visible(acceptLink);
  const acceptUrl = await acceptLink.inputValue();
  await gus.page.goto(acceptUrl);
  await gus.page.getByRole('button', { name: 'Accept with my account' }).click();
  await visible(gus.page.getByText(/You joined the project/));

  // --- the external person signs out and in again with the passkey -----------------
  await gus.page.goto(`${origin}/`);
  await gus.page.getByRole('button', { name: 'Sign out' }).click();
  await visible(gus.page.getByRole('heading', { name: 'Sign in to Bulwark' }));
  await checkScreen(gus, '06-sign-in');
  await signInWithPasskey(gus.page);
  assert.equal(
    await gus.page.getByText('Offline copy locked').count(),
    0,
    'the passkey PRF opened the offline copy',
  );
  // A full page load: the keys were only in memory, so the copy is locked again.
  await gus.page.goto(projectUrl);
  await visible(gus.page.getByText('You are an external member'));
  await unlockOfflineCopy(gus.page);

  // --- board: edits seen live by the other ---------------------------------------------
  await page
    .getByRole('navigation', { name: 'Project' })
    .getByRole('link', { name: 'Board' })
    .click();
  await page.getByRole('button', { name: 'New issue' }).click();
  await page.getByLabel('Title').fill('Prepare the launch');
  await page.getByRole('button', { name: 'Create issue' }).click();
  await visible(card(page, 'APOLLO-1'));
  await visible(card(gus.page, 'Prepare the launch'));
  await checkScreen(ada, '07-board');
  await card(gus.page, 'Prepare the launch')
    .getByLabel(/Move to/)
    .selectOption({ label: 'In progress' });
  await visible(
    page
      .getByRole('region', { name: /In progress/ })
      .getByRole('heading', { name: /Prepare the launch/ }),
  );

  // --- end-to-end encrypted chat: both set up their browser as a device ----------------
  const projectTab = (who: Page, name: string) =>
    who.getByRole('navigation', { name: 'Project' }).getByRole('link', { name }).click();
  await projectTab(gus.page, 'Chat');
  await visible(gus.page.getByLabel('New channel'), 60_000);
  await projectTab(page, 'Chat');
  await page.getByLabel('New channel').fill('general');
  await page.getByRole('button', { name: 'Create channel' }).click();
  const adaComposer = page.getByRole('textbox', { name: /Message/ });
  await visible(adaComposer, 60_000);
  await adaComposer.fill('Hello Gus — only our two browsers can read this.');
  await page.getByRole('button', { name: 'Send' }).click();
  await visible(page.getByText('Hello Gus — only our two browsers can read this.'));
  await gus.page
    .getByRole('navigation', { name: 'Conversations' })
    .getByRole('link', { name: /general/ })
    .click();
  await visible(gus.page.getByText('Hello Gus — only our two browsers can read this.'), 60_000);
  const gusComposer = gus.page.getByRole('textbox', { name: /Message/ });
  await gusComposer.fill('Hello Ada, received and decrypted.');
  await gus.page.getByRole('button', { name: 'Send' }).click();
  await visible(page.getByText('Hello Ada, received and decrypted.'), 60_000);
  await checkScreen(ada, '08-chat');

  // --- the external goes offline, keeps working, comes back: everything syncs ---------
  const projectId = new URL(projectUrl).pathname.split('/')[2] ?? '';
  const shortLived = await callIn(page, 'POST', `/v1/projects/${projectId}/issues`, {
    set: { title: 'Short-lived' },
  });
  assert.equal(shortLived.status, 201, JSON.stringify(shortLived.json));
  const shortLivedId = (shortLived.json as { issue: { id: string } }).issue.id;
  await projectTab(gus.page, 'Board');
  await visible(card(gus.page, 'Prepare the launch'));
  await visible(card(gus.page, 'Short-lived'));
  await gus.context.setOffline(true);
  await card(gus.page, 'Prepare the launch')
    .getByLabel(/Move to/)
    .selectOption({ label: 'Done' });
  await gus.page.getByRole('button', { name: 'New issue' }).click();
  await gus.page.getByLabel('Title').fill('Written on the train');
  await gus.page.getByRole('button', { name: 'Create issue' }).click();
  await visible(card(gus.page, 'Written on the train'));
  await visible(gus.page.getByText('Offline', { exact: true }));
  await visible(card(gus.page, 'Prepare the launch').getByText('Queued'));
  await checkScreen(gus, '09-board-offline');
  await projectTab(gus.page, 'Chat');
  await gus.page
    .getByRole('navigation', { name: 'Conversations' })
    .getByRole('link', { name: /general/ })
    .click();
  await gusComposer.fill('Sent while offline, delivered later.');
  await gus.page.getByRole('button', { name: 'Send' }).click();
  await visible(gus.page.getByText('Queued', { exact: true }));
  await checkScreen(gus, '10-chat-offline');
  // Nothing reached the server while offline.
  await sleep(500);
  assert.equal(await page.getByText('Sent while offline, delivered later.').count(), 0);
  // An edit that will clash: meanwhile, the admin deletes that issue.
  await projectTab(gus.page, 'Board');
  await card(gus.page, 'Short-lived')
    .getByLabel(/Move to/)
    .selectOption({ label: 'Review' });
  const deleted = await callIn(page, 'DELETE', `/v1/issues/${shortLivedId}`);
  assert.equal(deleted.status, 204, JSON.stringify(deleted.json));

  await gus.context.setOffline(false);
  await visible(page.getByText('Sent while offline, delivered later.'), 60_000);
  await projectTab(page, 'Board');
  await visible(card(page, 'Written on the train'), 30_000);
  await visible(
    page.getByRole('region', { name: /Done/ }).getByRole('heading', { name: /Prepare the launch/ }),
    30_000,
  );
  // The clash waits for the person, in plain words; the rest went through.
  const decision = gus.page.getByRole('button', {
    name: /1 change waiting to be sent, 1 needs your decision/,
  });
  await visible(decision, 30_000);
  await decision.click();
  const waiting = gus.page.getByRole('dialog', { name: 'Changes waiting to be sent' });
  await visible(waiting.getByText(/Move APOLLO-\d+ to Review/));
  await visible(waiting.getByText(/deleted/i));
  await checkScreen(gus, '11-conflict');
  await waiting.getByRole('button', { name: /^Discard: / }).click();
  await waiting.getByRole('button', { name: /^Discard for good: / }).click();
  await decision.waitFor({ state: 'detached', timeout: 10_000 });
  await gus.page.keyboard.press('Escape');

  // --- the admin verifies the audit trail in the browser ------------------------------
  await nav(page, 'Installation admin').click();
  await page.getByRole('button', { name: 'Verify in this browser' }).click();
  await visible(page.getByText('Verified in this browser'), 30_000);
  await checkScreen(ada, '12-audit-verified');

  // === what goes wrong, each told in plain words, nothing lost from the outbox ===========

  // --- a tampered ledger head: the signed checkpoint altered on its way ----------------
  await page.route('**/v1/audit/checkpoint', async (route) => {
    if (route.request().method() !== 'GET') return route.continue();
    const genuine = await server.request('/v1/audit/checkpoint', {
      headers: { authorization: `Bearer ${operatorToken}` },
    });
    assert.equal(genuine.status, 200, genuine.body);
    const lines = genuine.body.split('\n');
    lines[2] = Buffer.alloc(32, 7).toString('base64'); // another root hash, same signature
    await route.fulfill({
      status: 200,
      contentType: 'text/plain; charset=utf-8',
      body: lines.join('\n'),
    });
  });
  await page.getByRole('button', { name: 'Verify in this browser' }).click();
  await visible(page.getByText('Verification failed'), 30_000);
  // Refused for what it is: a head whose signature does not match, not a parse error.
  await visible(page.getByText(/signature/i), 5_000);
  await checkScreen(ada, '12-audit-tampered-head');
  await page.unroute('**/v1/audit/checkpoint');

  // --- the admin's other screens: account, org and project policy, key ceremonies -------
  await nav(page, /^Account/).click();
  await visible(page.getByRole('heading', { name: 'Your account' }));
  await checkScreen(ada, '30-account-passkeys');
  await page.getByRole('link', { name: 'Authenticator app' }).click();
  await page.getByRole('button', { name: 'Set up an authenticator app' }).click();
  const secretBox = page.locator('.secret-box');
  await visible(secretBox);
  const totpSecret = ((await secretBox.textContent()) ?? '').replace(/\s/g, '');
  await page.getByLabel('Code from the app').fill(
    new TOTP({
      secret: Secret.fromBase32(totpSecret),
      algorithm: 'SHA1',
      digits: 6,
      period: 30,
    }).generate(),
  );
  await page.getByRole('button', { name: 'Confirm', exact: true }).click();
  await visible(page.getByText('Set up', { exact: true }));
  await checkScreen(ada, '31-account-authenticator');
  await page.getByRole('link', { name: 'Recovery codes' }).click();
  await page.getByRole('button', { name: 'Generate new codes' }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Generate', exact: true }).click();
  await visible(page.locator('.code-list li'));
  assert.equal(await page.locator('.code-list li').count(), 10, 'ten recovery codes, shown once');
  await checkScreen(ada, '32-account-recovery-codes');
  const adaOrgId = ((await callIn(page, 'GET', '/v1/me')).json as { orgId: string }).orgId;
  await page.goto(`${origin}/orgs/${adaOrgId}/admin`);
  await visible(page.getByRole('heading', { name: /policy/i }));
  await checkScreen(ada, '33-org-policy');
  await page.goto(`${projectUrl}/settings`);
  await visible(page.getByText('Effective', { exact: true }).first());
  await checkScreen(ada, '34-project-policy');
  await page.goto(`${origin}/admin/ceremonies`);
  await visible(page.getByRole('heading', { name: /Seal/ }));
  await checkScreen(ada, '35-key-ceremonies');

  // --- a policy tightened while the external is signed in ----------------------------
  const setExternalRanges = async (sourceCidrs: string[] | null) => {
    await stepUpIn(page);
    const answer = await callIn(page, 'PUT', `/v1/projects/${projectId}/policy`, {
      external: sourceCidrs ? { sourceCidrs } : {},
    });
    assert.equal(answer.status, 200, JSON.stringify(answer.json));
  };
  await projectTab(gus.page, 'Board');
  await visible(card(gus.page, 'Written on the train'));
  await setExternalRanges(['10.0.0.0/8']);
  await card(gus.page, 'Written on the train')
    .getByLabel(/Move to/)
    .selectOption({ label: 'Review' });
  await visible(
    gus.page
      .getByText('Your organisation’s security policy changed')
      .or(gus.page.getByText("Your organisation's security policy changed")),
    30_000,
  );
  await visible(card(gus.page, 'Written on the train').getByText('Queued'));
  await checkScreen(gus, '13-policy-tightened');
  await setExternalRanges(null);
  await nav(page, /APOLLO/).click();
  await visible(
    page
      .getByRole('region', { name: /Review/ })
      .getByRole('heading', { name: /Written on the train/ }),
    60_000,
  );

  // --- the server sealed mid-session ------------------------------------------------------
  const sealed = await server.request('/v1/sys/seal', {
    method: 'POST',
    headers: { authorization: `Bearer ${operatorToken}` },
  });
  assert.equal(sealed.status, 200, sealed.body);
  await card(gus.page, 'Written on the train')
    .getByLabel(/Move to/)
    .selectOption({ label: 'Done' });
  await visible(gus.page.getByText('The server has been sealed'), 30_000);
  await visible(card(gus.page, 'Written on the train').getByText('Queued'));
  await checkScreen(gus, '14-sealed');
  const unsealed = await server.request('/v1/sys/unseal', { method: 'POST', body: { passphrase } });
  assert.equal(unsealed.status, 200, unsealed.body);
  await page.reload();
  await visible(
    page
      .getByRole('region', { name: /Done/ })
      .getByRole('heading', { name: /Written on the train/ }),
    90_000,
  );
  await gus.page
    .getByText('The server has been sealed')
    .waitFor({ state: 'detached', timeout: 30_000 });

  // --- the server unreachable at start: the offline copy opens with the passkey alone ---------
  // The service worker has precached the shell (bounded: a failed install never gets ready).
  await gus.page.evaluate(
    "Promise.race([navigator.serviceWorker.ready.then(() => true), new Promise((_, no) => setTimeout(() => no(new Error('the service worker did not install in 20 s')), 20000))])",
  );
  await gus.context.setOffline(true);
  await gus.page.reload();
  await visible(gus.page.getByText('The server cannot be reached'), 30_000);
  await checkScreen(gus, '16-offline-start');
  await gus.page.getByRole('button', { name: 'Open the offline copy on this device' }).click();
  await visible(gus.page.getByRole('navigation', { name: 'Main' }));
  await nav(gus.page, /APOLLO/).click();
  await visible(gus.page.getByText('Offline copy', { exact: true }), 30_000);
  await visible(card(gus.page, 'Prepare the launch'));
  await checkScreen(gus, '17-offline-board');
  await gus.context.setOffline(false);
  // Back online: a fresh load, the copy unlocked again with the passkey.
  await gus.page.reload();
  await visible(gus.page.getByRole('navigation', { name: 'Main' }));
  await unlockOfflineCopy(gus.page);
  await visible(card(gus.page, 'Prepare the launch'));

  // --- the key screens on a phone (390×844); the passkey is synced to it -------------------
  const phone = await newPerson(browser, 'gus-phone', {
    viewport: { width: 390, height: 844 },
    isMobile: true,
  });
  people.push(phone);
  await syncPasskeys(gus, phone);
  await phone.page.goto(`${origin}/`);
  await visible(phone.page.getByRole('heading', { name: 'Sign in to Bulwark' }));
  await checkScreen(phone, '20-phone-sign-in');
  await phone.page.getByRole('button', { name: 'Sign in with a passkey' }).click();
  await visible(phone.page.getByRole('button', { name: 'Menu' }));
  await checkScreen(phone, '21-phone-home');
  await phone.page.getByRole('button', { name: 'Menu' }).click();
  await nav(phone.page, /APOLLO/).click();
  await visible(card(phone.page, 'Prepare the launch'));
  await checkScreen(phone, '22-phone-board');
  await card(phone.page, 'Prepare the launch').getByRole('link').click();
  await visible(phone.page.getByRole('heading', { name: /Prepare the launch/ }));
  await checkScreen(phone, '23-phone-issue');
  await phone.page.goto(`${origin}/account/sessions`);
  await visible(phone.page.getByRole('button', { name: 'End all other sessions' }));
  await checkScreen(phone, '24-phone-account-sessions');

  // --- the session revoked (from the phone): the desktop is told, its queue survives ---------
  await phone.page.getByRole('button', { name: 'End all other sessions' }).click();
  await visible(phone.page.getByText(/ended|revoked/i));
  await card(gus.page, 'Prepare the launch')
    .getByLabel(/Move to/)
    .selectOption({ label: 'Review' });
  await visible(gus.page.getByText('You have been signed out'), 30_000);
  await visible(card(gus.page, 'Prepare the launch').getByText('Queued'));
  await checkScreen(gus, '15-session-revoked');
  await gus.page.getByRole('button', { name: 'Sign in again' }).click();
  // Like a synced passkey: the desktop's copy continues from the phone's signature counter
  // (an older counter would rightly be refused as a cloned authenticator). A copied
  // credential carries no PRF seed; the offline copy stayed open in this page, so the
  // queued change is still there to send.
  await syncPasskeys(phone, gus);
  await signInWithPasskey(gus.page);
  await page.reload();
  await visible(
    page
      .getByRole('region', { name: /Review/ })
      .getByRole('heading', { name: /Prepare the launch/ }),
    60_000,
  );

  // --- a stolen laptop: the browser profile holds no plaintext ---------------------------------
  const stored = await storedBrowserData(gus.page);
  assert.ok(stored.records > 10, `the offline copy holds records (${stored.records})`);
  for (const secret of [
    'Written on the train',
    'Prepare the launch',
    'Sent while offline, delivered later.',
    'Hello Gus — only our two browsers can read this.',
    'Gus Globex',
  ])
    assert.ok(!stored.text.includes(secret), `"${secret}" readable in the browser profile`);
  assert.deepEqual(
    stored.cachedUrls.filter((url) => new URL(url).pathname.startsWith('/v1/')),
    [],
    'no API answer in the Cache Storage',
  );
}

/**
 * Everything the page's origin keeps on disk, as a thief would read it:
 * every IndexedDB record (binary as Latin-1 text, so plaintext bytes would
 * show), and the URLs in the Cache Storage.
 */
async function storedBrowserData(
  page: Page,
): Promise<{ records: number; text: string; cachedUrls: string[] }> {
  return (await page.evaluate(`(async () => {
    const asText = (value) => {
      if (value instanceof ArrayBuffer) value = new Uint8Array(value);
      if (ArrayBuffer.isView(value)) {
        const bytes = new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
        let out = '';
        for (const b of bytes) out += String.fromCharCode(b);
        return out;
      }
      if (Array.isArray(value)) return value.map(asText).join(' ');
      if (value && typeof value === 'object') return Object.entries(value).map(([k, v]) => k + ' ' + asText(v)).join(' ');
      return String(value);
    };
    let records = 0;
    let text = '';
    for (const info of await indexedDB.databases()) {
      const db = await new Promise((ok, no) => {
        const open = indexedDB.open(info.name);
        open.onsuccess = () => ok(open.result);
        open.onerror = () => no(open.error);
      });
      for (const store of db.objectStoreNames) {
        const all = await new Promise((ok, no) => {
          const request = db.transaction(store).objectStore(store).getAll();
          request.onsuccess = () => ok(request.result);
          request.onerror = () => no(request.error);
        });
        records += all.length;
        text += all.map(asText).join(' ');
      }
      db.close();
    }
    const cachedUrls = [];
    for (const name of await caches.keys())
      for (const request of await (await caches.open(name)).keys()) cachedUrls.push(request.url);
    return { records, text, cachedUrls };
  })()`)) as { records: number; text: string; cachedUrls: string[] };
}

/** Copies one person's passkeys (with their signature counters) to another device of theirs. */
async function syncPasskeys(from: Person, to: Person): Promise<void> {
  const { credentials } = await from.cdp.send('WebAuthn.getCredentials', {
    authenticatorId: from.authenticatorId,
  });
  for (const credential of credentials) {
    await to.cdp
      .send('WebAuthn.removeCredential', {
        authenticatorId: to.authenticatorId,
        credentialId: credential.credentialId,
      })
      .catch(() => {});
    await to.cdp.send('WebAuthn.addCredential', {
      authenticatorId: to.authenticatorId,
      credential,
    });
  }
}

/** fetch() from inside a page: same origin, with that person's session cookie. */
async function callIn(
  page: Page,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; json: unknown }> {
  return (await page.evaluate(
    `(async () => {
      const res = await fetch(${JSON.stringify(path)}, {
        method: ${JSON.stringify(method)},
        credentials: 'same-origin',
        headers: ${body === undefined ? '{}' : "{ 'content-type': 'application/json' }"},
        body: ${body === undefined ? 'undefined' : JSON.stringify(JSON.stringify(body))},
      });
      const text = await res.text();
      return { status: res.status, json: text ? JSON.parse(text) : null };
    })()`,
  )) as { status: number; json: unknown };
}

/** A step-up ceremony from inside the page (the virtual authenticator answers). */
async function stepUpIn(page: Page): Promise<void> {
  const status = await page.evaluate(`(async () => {
    const post = (path, body) => fetch(path, {
      method: 'POST', credentials: 'same-origin',
      headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
    });
    const { challengeId, options } = await (await post('/v1/auth/step-up/options', {})).json();
    const credential = await navigator.credentials.get({
      publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(options),
    });
    return (await post('/v1/auth/step-up/verify', { challengeId, response: credential.toJSON() })).status;
  })()`);
  assert.equal(status, 200, 'step-up');
}
