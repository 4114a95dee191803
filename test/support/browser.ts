/**
 * Real Chromium for end-to-end tests (Debian's /usr/bin/chromium driven by
 * playwright-core; never a downloaded browser), with a CDP virtual
 * authenticator for passkeys.
 *
 * Trusting the test server: Chromium refuses WebAuthn on a page with a
 * certificate error, so `ignoreHTTPSErrors` is not enough. Instead the
 * server's leaf key is pinned with `--ignore-certificate-errors-spki-list`
 * (base64 SHA-256 of its SubjectPublicKeyInfo): Chromium then treats the
 * certificate as valid, so the origin is a secure context without errors.
 * Playwright always launches with a fresh `--user-data-dir`, which that
 * switch requires.
 */
import { createHash, X509Certificate } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import {
  type Browser,
  type BrowserContext,
  type CDPSession,
  chromium,
  type Page,
} from 'playwright-core';

export const chromiumPath = process.env.TEST_CHROMIUM_PATH ?? '/usr/bin/chromium';

/** base64(SHA-256(SPKI)) of the first certificate in a PEM file. */
export function spkiPin(certPem: string): string {
  const spki = new X509Certificate(certPem).publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(spki).digest('base64');
}

export interface TestBrowser {
  browser: Browser;
  context: BrowserContext;
  page: Page;
  cdp: CDPSession;
  authenticatorId: string;
}

/**
 * Debian's Chromium trusting the server whose data directory is given (its
 * leaf pinned, see above), with fake media devices for calls; closed after
 * the test. Null when skipped (no Chromium outside CI); under CI=true a
 * missing browser fails.
 */
export async function launchChromium(t: TestContext, dataDir: string): Promise<Browser | null> {
  if (!existsSync(chromiumPath)) {
    if (process.env.CI === 'true')
      throw new Error(`Chromium is required under CI=true: ${chromiumPath} is missing`);
    t.skip(`no Chromium at ${chromiumPath}`);
    return null;
  }
  const leaf = readFileSync(join(dataDir, 'tls', 'server.crt'), 'utf8');
  const browser = await chromium.launch({
    executablePath: chromiumPath,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--use-fake-ui-for-media-stream',
      '--use-fake-device-for-media-stream',
      `--ignore-certificate-errors-spki-list=${spkiPin(leaf)}`,
    ],
  });
  t.after(() => browser.close());
  return browser;
}

/**
 * Chromium as above with one page and a resident-key, user-verifying
 * virtual authenticator.
 */
export async function launchBrowser(t: TestContext, dataDir: string): Promise<TestBrowser | null> {
  const browser = await launchChromium(t, dataDir);
  if (!browser) return null;
  const context = await browser.newContext();
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  return { browser, context, page, cdp, authenticatorId };
}
