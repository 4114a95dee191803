import { request } from 'node:https';
import * as oidc from 'openid-client';
import type { OidcConnectorConfig } from './config.ts';

/** Claims as the provider sent them (ID token, completed by UserInfo). */
export type ProviderClaims = Record<string, unknown> & { sub: string };

/** Why a login was refused; logged, never shown in detail to the browser. */
export type OidcFailureReason =
  | 'unknown_connector'
  | 'discovery_failed'
  | 'state_invalid'
  | 'browser_mismatch'
  | 'provider_error'
  | 'issuer_mismatch'
  | 'token_exchange_failed'
  | 'id_token_invalid'
  | 'claims_invalid'
  | 'email_not_verified'
  | 'email_domain_not_allowed'
  | 'email_taken'
  | 'account_disabled';

export class OidcLoginError extends Error {
  override name = 'OidcLoginError';
  readonly reason: OidcFailureReason;
  /** Safe to show: says what to fix, holds no token or claim value. */
  readonly publicMessage: string;

  constructor(reason: OidcFailureReason, publicMessage: string, options?: { cause?: unknown }) {
    super(`${reason}: ${publicMessage}`, options);
    this.reason = reason;
    this.publicMessage = publicMessage;
  }
}

export interface ConnectorOptions {
  config: OidcConnectorConfig;
  /** The client secret (read from `clientSecretFile` by the caller); null for a public client. */
  clientSecret: string | null;
  /** PEM CA to trust for this issuer only (from `caFile`); null to use the system store. */
  ca: string | null;
  /**
   * Tests only: lets openid-client talk plain http to a loopback issuer.
   * Never set from configuration.
   */
  allowInsecureHttpForTests?: boolean;
  /** Seconds; openid-client's default is 30. */
  timeoutSeconds?: number;
}

export interface AuthorizationRequest {
  redirectUri: string;
  state: string;
  nonce: string;
  codeChallenge: string;
}

export interface AuthorizationResult {
  claims: ProviderClaims;
}

/**
 * One configured OpenID Provider, through openid-client: discovery (cached
 * until it fails), the authorization URL, and the code exchange with every
 * check openid-client makes (RFC 9207 `iss`, `state`, PKCE, ID token
 * signature, `iss`, `aud`, `azp`, `exp`, `iat`, `nonce`), each mapped to a
 * typed refusal.
 */
export class OidcConnector {
  readonly config: OidcConnectorConfig;
  readonly #opts: ConnectorOptions;
  #discovery: Promise<oidc.Configuration> | null = null;

  constructor(opts: ConnectorOptions) {
    this.config = opts.config;
    this.#opts = opts;
  }

  /** The issuer metadata, fetched once; a failed fetch is retried on the next call. */
  discover(): Promise<oidc.Configuration> {
    if (!this.#discovery) {
      const pending = this.#fetchDiscovery();
      this.#discovery = pending;
      pending.catch(() => {
        if (this.#discovery === pending) this.#discovery = null;
      });
    }
    return this.#discovery;
  }

  async #fetchDiscovery(): Promise<oidc.Configuration> {
    const { config, clientSecret, ca } = this.#opts;
    // Verify the ID token's signature even though it came straight from the token endpoint
    // over TLS (OIDC Core §3.1.3.7 allows skipping it; a compromised or MITM'd path must not).
    const execute: ((c: oidc.Configuration) => void)[] = [oidc.enableNonRepudiationChecks];
    if (this.#opts.allowInsecureHttpForTests) execute.push(oidc.allowInsecureRequests);
    const options: oidc.DiscoveryRequestOptions = {
      execute,
      timeout: this.#opts.timeoutSeconds ?? 15,
      ...(ca ? { [oidc.customFetch]: fetchTrusting(ca) } : {}),
    };
    try {
      return await oidc.discovery(
        new URL(config.issuer),
        config.clientId,
        undefined,
        clientSecret === null ? oidc.None() : oidc.ClientSecretBasic(clientSecret),
        options,
      );
    } catch (err) {
      throw new OidcLoginError(
        'discovery_failed',
        'The identity provider could not be reached or its metadata was not accepted.',
        { cause: err },
      );
    }
  }

  async authorizationUrl(req: AuthorizationRequest): Promise<URL> {
    const configuration = await this.discover();
    return oidc.buildAuthorizationUrl(configuration, {
      redirect_uri: req.redirectUri,
      scope: this.config.scopes.join(' '),
      response_type: 'code',
      state: req.state,
      nonce: req.nonce,
      code_challenge: req.codeChallenge,
      code_challenge_method: 'S256',
    });
  }

  /**
   * Validates the authorization response and exchanges the code. The
   * callback URL must be the full URL the browser came back to (query
   * included), rebuilt on our public origin, not the Host header.
   */
  async exchange(
    callbackUrl: URL,
    checks: { state: string; nonce: string; codeVerifier: string },
  ): Promise<AuthorizationResult> {
    const configuration = await this.discover();
    let tokens: Awaited<ReturnType<typeof oidc.authorizationCodeGrant>>;
    try {
      tokens = await oidc.authorizationCodeGrant(configuration, callbackUrl, {
        expectedState: checks.state,
        expectedNonce: checks.nonce,
        pkceCodeVerifier: checks.codeVerifier,
        idTokenExpected: true,
      });
    } catch (err) {
      throw mapGrantError(err);
    }
    const idClaims = tokens.claims();
    if (!idClaims || typeof idClaims.sub !== 'string' || idClaims.sub === '') {
      throw new OidcLoginError(
        'id_token_invalid',
        'The identity provider sent no usable ID token.',
      );
    }
    let userinfo: Record<string, unknown> = {};
    if (configuration.serverMetadata().userinfo_endpoint && tokens.access_token) {
      try {
        // expectedSubject: UserInfo about anyone but the ID token's subject is refused (OIDC Core §5.3.2).
        userinfo = await oidc.fetchUserInfo(configuration, tokens.access_token, idClaims.sub);
      } catch (err) {
        throw new OidcLoginError(
          'claims_invalid',
          'The identity provider did not return the user’s profile.',
          { cause: err },
        );
      }
    }
    // The signed ID token wins over UserInfo where both carry a claim.
    return { claims: { ...userinfo, ...idClaims, sub: idClaims.sub } };
  }
}

/** openid-client / oauth4webapi failures → one typed refusal each. */
function mapGrantError(err: unknown): OidcLoginError {
  if (err instanceof oidc.AuthorizationResponseError) {
    return new OidcLoginError(
      'provider_error',
      `The identity provider refused the login (${safeCode(err.error)}).`,
      { cause: err },
    );
  }
  if (err instanceof oidc.ResponseBodyError) {
    return new OidcLoginError(
      'token_exchange_failed',
      `The identity provider refused the authorization code (${safeCode(err.error)}).`,
      { cause: err },
    );
  }
  const code = (err as { code?: unknown }).code;
  // openid-client rewords oauth4webapi's errors; the precise one is the cause.
  const cause = (err as { cause?: unknown }).cause;
  const detail = cause instanceof Error ? cause.message : err instanceof Error ? err.message : '';
  // RFC 9207: the authorization response names its issuer; missing or another one is refused.
  if (
    code === 'OAUTH_INVALID_RESPONSE' &&
    /^(response parameter "iss"|unexpected "iss")/.test(detail)
  ) {
    return new OidcLoginError('issuer_mismatch', 'The response came from another issuer.', {
      cause: err,
    });
  }
  if (
    code === 'OAUTH_JWS_SIGNATURE_VERIFICATION_FAILED' ||
    code === 'OAUTH_JWT_CLAIM_COMPARISON_FAILED' ||
    code === 'OAUTH_JWT_TIMESTAMP_CHECK_FAILED' ||
    code === 'OAUTH_KEY_SELECTION_FAILED' ||
    code === 'OAUTH_UNSUPPORTED_OPERATION' ||
    code === 'OAUTH_INVALID_RESPONSE' ||
    code === 'OAUTH_PARSE_ERROR'
  ) {
    return new OidcLoginError('id_token_invalid', 'The ID token was not accepted.', {
      cause: err,
    });
  }
  return new OidcLoginError('token_exchange_failed', 'The login could not be completed.', {
    cause: err,
  });
}

/** OAuth error codes are `[\x20-\x21\x23-\x5B\x5D-\x7E]` (RFC 6749 §5.2); anything else is not echoed. */
function safeCode(value: unknown): string {
  return typeof value === 'string' && /^[A-Za-z0-9_.-]{1,64}$/.test(value) ? value : 'error';
}

/**
 * A fetch that trusts one extra CA (an internal PKI) for this issuer only,
 * instead of weakening TLS process-wide (NODE_EXTRA_CA_CERTS or a global
 * dispatcher). openid-client never follows redirects (redirect: 'manual').
 */
export function fetchTrusting(ca: string): oidc.CustomFetch {
  return (url, options) =>
    new Promise<Response>((resolve, reject) => {
      const target = new URL(url);
      if (target.protocol !== 'https:') {
        reject(new Error('only https is allowed with a custom CA'));
        return;
      }
      const req = request(
        target,
        {
          method: options.method,
          headers: options.headers,
          ca,
          ...(options.signal ? { signal: options.signal } : {}),
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', reject);
          res.on('end', () => {
            const headers = new Headers();
            for (const [name, value] of Object.entries(res.headers)) {
              if (value === undefined) continue;
              for (const v of [value].flat()) headers.append(name, v);
            }
            const status = res.statusCode ?? 502;
            const body = status === 204 || status === 304 ? null : Buffer.concat(chunks);
            resolve(new Response(body, { status, headers }));
          });
        },
      );
      req.on('error', reject);
      const body = options.body;
      if (body === undefined || body === null) {
        req.end();
      } else if (typeof body === 'string' || body instanceof Uint8Array) {
        req.end(body);
      } else if (body instanceof URLSearchParams) {
        req.end(body.toString());
      } else if (body instanceof ArrayBuffer) {
        req.end(Buffer.from(body));
      } else {
        req.destroy();
        reject(new Error('streamed request bodies are not supported'));
      }
    });
}
