/**
 * The web client in real Chromium (Debian's, driven by playwright-core):
 * one browser, one context per person — each with its own cookie jar,
 * storage and a CDP virtual authenticator with PRF (so the offline store's
 * key comes from the passkey, as on a real security key) — plus the checks
 * every screen gets: axe-core for accessibility, a listener for Content
 * Security Policy violations, and a screenshot in the test output folder.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { Browser, BrowserContext, CDPSession, Page } from 'playwright-core';
import { launchChromium } from './browser.ts';

export { launchChromium };

import { repoRoot } from './process.ts';

const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

/** Screenshots land here (not committed; docs/screenshots/ holds the chosen ones). */
export const screenshotDir = join(repoRoot, 'test-output', 'web');

export interface Person {
  name: string;
  context: BrowserContext;
  page: Page;
  cdp: CDPSession;
  authenticatorId: string;
  /** CSP violations the page reported (must stay empty). */
  cspViolations: string[];
}

/** A person at their own device: fresh profile, a passkey authenticator with PRF. */
export async function newPerson(
  browser: Browser,
  name: string,
  opts: { viewport?: { width: number; height: number }; isMobile?: boolean } = {},
): Promise<Person> {
  const context = await browser.newContext({
    viewport: opts.viewport ?? { width: 1280, height: 800 },
    ...(opts.isMobile ? { isMobile: true, hasTouch: true, deviceScaleFactor: 2 } : {}),
  });
  const page = await context.newPage();
  const cspViolations: string[] = [];
  await page.exposeFunction('__bulwarkCspViolation', (text: string) => cspViolations.push(text));
  // A string, not a function: this file is type-checked without the DOM library.
  await page.addInitScript({
    content: `document.addEventListener('securitypolicyviolation', (event) => {
      window.__bulwarkCspViolation(event.violatedDirective + ' blocked ' + event.blockedURI + ' at ' + event.sourceFile + ':' + event.lineNumber);
    });`,
  });
  page.on('pageerror', (error) => console.log(`[${name}] page error: ${error.message}`));
  const cdp = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      ctap2Version: 'ctap2_1',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      hasPrf: true,
      automaticPresenceSimulation: true,
    },
  });
  return { name, context, page, cdp, authenticatorId, cspViolations };
}

interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: unknown[] }[];
}

/**
 * axe-core run inside the page (evaluated through the DevTools protocol, so
 * the page's CSP, which rightly refuses inline scripts, does not block it).
 * Serious and critical violations fail the test.
 */
export async function checkAccessibility(page: Page, screen: string): Promise<void> {
  await page.evaluate(`${axeSource};undefined`);
  const violations = (await page.evaluate(
    "axe.run(document, { resultTypes: ['violations'] }).then((r) => r.violations)",
  )) as AxeViolation[];
  const serious = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(
    serious.map(
      (v) =>
        `${v.id} (${v.impact}): ${v.help} at ${JSON.stringify(v.nodes.map((n) => n.target)).slice(0, 300)}`,
    ),
    [],
    `accessibility violations on ${screen}`,
  );
}

/** A full-page screenshot named after the screen, under test-output/web/. */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(screenshotDir, { recursive: true });
  const path = join(screenshotDir, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/** Every screen: no CSP violation so far, no serious accessibility problem, a screenshot. */
export async function checkScreen(person: Person, name: string): Promise<void> {
  await checkAccessibility(person.page, name);
  // Responsive: the page itself never scrolls sideways (wide parts scroll inside themselves).
  const overflow = await person.page.evaluate(
    'document.documentElement.scrollWidth - document.documentElement.clientWidth',
  );
  if (Number(overflow) > 0) {
    // Name the outermost elements that stick out, to say where to look.
    const culprits = await person.page.evaluate(`(() => {
      const width = document.documentElement.clientWidth;
      const out = [...document.querySelectorAll('body *')].filter((el) => el.getBoundingClientRect().right > width + 1);
      return out.filter((el) => !out.includes(el.parentElement)).slice(0, 5)
        .map((el) => {
          const chain = [];
          for (let a = el.parentElement; a && chain.length < 4; a = a.parentElement)
            chain.push(a.tagName.toLowerCase() + '.' + String(a.className).split(' ').join('.') + '[' + getComputedStyle(a).overflowX + ' ' + a.clientWidth + '/' + a.scrollWidth + ']');
          return el.tagName.toLowerCase() + (el.className ? '.' + String(el.className).split(' ').join('.') : '') + ' ' + Math.round(el.getBoundingClientRect().right) + 'px in ' + chain.join(' < ');
        });
    })()`);
    assert.fail(`${name} is ${overflow} px wider than the screen: ${JSON.stringify(culprits)}`);
  }
  assert.deepEqual(person.cspViolations, [], `CSP violations by ${name}`);
  await screenshot(person.page, name);
}
