import { readFileSync } from 'node:fs';
import type { App } from '../app.ts';

/** Files read once at start-up; nothing is read from a path the request names. */
const file = (name: string) => readFileSync(new URL(`./${name}`, import.meta.url), 'utf8');

/** The login, first-admin setup, enrolment and invitation pages, with their one script (CSP: script-src 'self'). */
export function registerPageRoutes(app: App): void {
  const pages = {
    login: file('login.html'),
    setup: file('setup.html'),
    enrol: file('enrol.html'),
    invite: file('invite.html'),
    script: file('passkeys.js'),
    style: file('pages.css'),
  };
  const anonymous = { config: { action: 'page.static' as const } };
  app.get('/login', anonymous, async (_req, reply) =>
    reply.type('text/html; charset=utf-8').send(pages.login),
  );
  app.get('/setup', anonymous, async (_req, reply) =>
    reply.type('text/html; charset=utf-8').send(pages.setup),
  );
  app.get('/enrol', anonymous, async (_req, reply) =>
    reply.type('text/html; charset=utf-8').send(pages.enrol),
  );
  app.get('/invite', anonymous, async (_req, reply) =>
    reply.type('text/html; charset=utf-8').send(pages.invite),
  );
  app.get('/assets/passkeys.js', anonymous, async (_req, reply) =>
    reply.type('text/javascript; charset=utf-8').send(pages.script),
  );
  app.get('/assets/pages.css', anonymous, async (_req, reply) =>
    reply.type('text/css; charset=utf-8').send(pages.style),
  );
}
