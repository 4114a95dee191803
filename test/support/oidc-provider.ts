/**
 * A real OpenID Provider (panva's `oidc-provider`) on loopback for tests,
 * with a non-interactive login: its interaction route logs in whichever
 * test user `nextLogin` names and grants the requested scopes. Plain http
 * on 127.0.0.1 (the relying party enables insecure requests in tests only).
 *
 * `tamper` rewrites the ID token the token endpoint returns (a flipped
 * signature byte, or a signature by a key the provider never published
 * under the same `kid`), to prove the relying party checks it.
 */
import { generateKeyPairSync, type KeyObject, randomBytes, sign } from 'node:crypto';
import { createServer, request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TestContext } from 'node:test';
import Provider, { type KoaContextWithOIDC } from 'oidc-provider';

export interface TestAccount {
  preferred_username?: string;
  name?: string;
  email?: string;
  email_verified?: boolean;
  groups?: string[];
}

/**
 * How the token endpoint's ID token is spoiled: a flipped signature byte, a
 * signature by an unpublished key under the published `kid`, or claims
 * rewritten and re-signed with the provider's real key (so only the claim
 * check can catch it).
 */
export type IdTokenTamper =
  | 'flip-signature'
  | 'foreign-key'
  | { claims: (claims: Record<string, unknown>) => Record<string, unknown> }
  | null;

export interface TestOidcProvider {
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** Accounts by `sub`; edit them between logins (claims are read at each login). */
  accounts: Map<string, TestAccount>;
  /** The `sub` the next interaction logs in. */
  nextLogin: string;
  tamper: IdTokenTamper;
  close(): Promise<void>;
}

export async function startOidcProvider(
  t: TestContext,
  opts: {
    redirectUris: string[];
    accounts?: Record<string, TestAccount>;
    clientId?: string;
  },
): Promise<TestOidcProvider> {
  let handler: ((req: IncomingMessage, res: import('node:http').ServerResponse) => void) | null =
    null;
  const server = createServer((req, res) => {
    if (handler) handler(req, res);
    else res.writeHead(503).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const issuer = `http://127.0.0.1:${port}`;

  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const kid = `k-${randomBytes(4).toString('hex')}`;
  const foreign = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  const clientId = opts.clientId ?? 'bulwark';
  const clientSecret = randomBytes(24).toString('base64url');

  const state: TestOidcProvider = {
    issuer,
    clientId,
    clientSecret,
    accounts: new Map(Object.entries(opts.accounts ?? {})),
    nextLogin: Object.keys(opts.accounts ?? {})[0] ?? 'nobody',
    tamper: null,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };

  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: clientId,
        client_secret: clientSecret,
        redirect_uris: opts.redirectUris,
        grant_types: ['authorization_code'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ],
    jwks: { keys: [{ ...privateKey.export({ format: 'jwk' }), kid, use: 'sig', alg: 'RS256' }] },
    cookies: { keys: [randomBytes(32).toString('hex')] },
    pkce: { required: () => true },
    ttl: {
      AccessToken: 600,
      AuthorizationCode: 60,
      IdToken: 600,
      Interaction: 600,
      Session: 3600,
      Grant: 3600,
    },
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name', 'preferred_username', 'groups'],
    },
    features: { devInteractions: { enabled: false } },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    findAccount: (_ctx, sub) => {
      const account = state.accounts.get(sub);
      if (!account) return undefined;
      return { accountId: sub, claims: () => ({ sub, ...account }) };
    },
  });
  provider.on('server_error', (_ctx: unknown, err: Error) => {
    process.stderr.write(`test OIDC provider error: ${err.stack ?? err.message}\n`);
  });

  provider.use(async (ctx: KoaContextWithOIDC, next: () => Promise<unknown>) => {
    await next();
    const body = ctx.body as { id_token?: unknown } | undefined;
    if (ctx.path === '/token' && state.tamper && typeof body?.id_token === 'string') {
      ctx.body = {
        ...body,
        id_token: tamperIdToken(body.id_token, state.tamper, { foreign, real: privateKey }),
      };
    }
  });

  const callback = provider.callback();
  handler = (req, res) => {
    const url = new URL(req.url ?? '/', issuer);
    if (req.method === 'GET' && url.pathname.startsWith('/interaction/')) {
      finishInteraction(provider, state, req, res).catch((err: Error) => {
        res.writeHead(500, { 'content-type': 'text/plain' }).end(err.message);
      });
      return;
    }
    callback(req, res);
  };
  t.after(state.close);
  return state;
}

/** Logs in `state.nextLogin`, then grants whatever the client asked for. */
async function finishInteraction(
  provider: Provider,
  state: TestOidcProvider,
  req: IncomingMessage,
  res: import('node:http').ServerResponse,
): Promise<void> {
  const details = await provider.interactionDetails(req, res);
  if (details.prompt.name === 'login') {
    await provider.interactionFinished(
      req,
      res,
      { login: { accountId: state.nextLogin } },
      { mergeWithLastSubmission: false },
    );
    return;
  }
  const accountId = details.session?.accountId;
  if (!accountId) throw new Error('consent without a session');
  const grant = details.grantId
    ? await provider.Grant.find(details.grantId)
    : new provider.Grant({ accountId, clientId: String(details.params.client_id) });
  if (!grant) throw new Error('grant vanished');
  const missing = details.prompt.details as {
    missingOIDCScope?: string[];
    missingOIDCClaims?: string[];
    missingResourceScopes?: Record<string, string[]>;
  };
  if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
  if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
  for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) {
    grant.addResourceScope(indicator, scopes.join(' '));
  }
  const grantId = await grant.save();
  await provider.interactionFinished(
    req,
    res,
    { consent: { grantId } },
    { mergeWithLastSubmission: true },
  );
}

function tamperIdToken(
  jwt: string,
  how: Exclude<IdTokenTamper, null>,
  keys: { foreign: KeyObject; real: KeyObject },
) {
  const [header = '', payload = '', signature = ''] = jwt.split('.');
  if (typeof how === 'object') {
    const claims = how.claims(JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')));
    const body = Buffer.from(JSON.stringify(claims)).toString('base64url');
    const resigned = sign('sha256', Buffer.from(`${header}.${body}`), keys.real);
    return `${header}.${body}.${resigned.toString('base64url')}`;
  }
  if (how === 'flip-signature') {
    const bytes = Buffer.from(signature, 'base64url');
    bytes[10] = (bytes[10] ?? 0) ^ 0x01;
    return `${header}.${payload}.${bytes.toString('base64url')}`;
  }
  // Same header (same kid and alg), signed by a key the provider never published.
  const forged = sign('sha256', Buffer.from(`${header}.${payload}`), keys.foreign);
  return `${header}.${payload}.${forged.toString('base64url')}`;
}

// --- a tiny browser: cookie jar per host, manual redirects ------------------

export interface Hop {
  status: number;
  location: string | null;
  setCookies: string[];
  body: string;
}

/** Cookies by host (paths and flags ignored: enough for one provider and one server). */
export class CookieBrowser {
  readonly #jar = new Map<string, Map<string, string>>();
  readonly #ca: string | null;

  constructor(opts: { ca: string | null }) {
    this.#ca = opts.ca;
  }

  cookie(host: string, name: string): string | undefined {
    return this.#jar.get(host)?.get(name);
  }

  setCookie(host: string, name: string, value: string): void {
    const jar = this.#jar.get(host) ?? new Map<string, string>();
    jar.set(name, value);
    this.#jar.set(host, jar);
  }

  /** One GET, no redirect followed; cookies stored. */
  get(url: string): Promise<Hop> {
    const target = new URL(url);
    const cookies = [...(this.#jar.get(target.host) ?? new Map<string, string>())]
      .map(([k, v]) => `${k}=${v}`)
      .join('; ');
    const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const req = send(
        target,
        {
          method: 'GET',
          headers: cookies ? { cookie: cookies } : {},
          ...(target.protocol === 'https:' && this.#ca
            ? { ca: this.#ca, minVersion: 'TLSv1.3' as const }
            : {}),
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const setCookies = [res.headers['set-cookie'] ?? []].flat();
            for (const line of setCookies) this.#store(target.host, line);
            const location = res.headers.location
              ? new URL(res.headers.location, target).href
              : null;
            resolve({
              status: res.statusCode ?? 0,
              location,
              setCookies,
              body: Buffer.concat(chunks).toString('utf8'),
            });
          });
        },
      );
      req.on('error', reject);
      req.end();
    });
  }

  /** Follows redirects while they stay on `within` (an origin); returns the first hop leaving it. */
  async followWithin(url: string, within: string, maxHops = 12): Promise<string> {
    let next = url;
    for (let i = 0; i < maxHops; i++) {
      const hop = await this.get(next);
      if (hop.status < 300 || hop.status > 399 || !hop.location) {
        throw new Error(
          `expected a redirect from ${next}, got ${hop.status}: ${hop.body.slice(0, 300)}`,
        );
      }
      if (new URL(hop.location).origin !== within) return hop.location;
      next = hop.location;
    }
    throw new Error('too many redirects at the provider');
  }

  #store(host: string, line: string): void {
    const [pair = ''] = line.split(';');
    const eq = pair.indexOf('=');
    if (eq <= 0) return;
    const name = pair.slice(0, eq).trim();
    const value = pair.slice(eq + 1).trim();
    const expired = /;\s*max-age=0\b/i.test(line) || /expires=Thu, 01 Jan 1970/i.test(line);
    const jar = this.#jar.get(host) ?? new Map<string, string>();
    if (expired || value === '') jar.delete(name);
    else jar.set(name, value);
    this.#jar.set(host, jar);
  }
}
