import { z } from 'zod';

const loopbackHosts = new Set(['127.0.0.1', '[::1]', 'localhost']);

/**
 * An issuer must be https: the discovery document, the JWKS and the token
 * answer are what the ID token's trust rests on. Plain http is accepted
 * only on loopback, for test providers (the client still refuses it unless
 * the code, never the config, allows insecure requests).
 */
const issuerUrl = z.url({ error: 'expected an https URL' }).refine(
  (value) => {
    if (!URL.canParse(value)) return false;
    const url = new URL(value);
    if (url.search !== '' || url.hash !== '') return false;
    return (
      url.protocol === 'https:' || (url.protocol === 'http:' && loopbackHosts.has(url.hostname))
    );
  },
  { error: 'expected an https URL without query or fragment (http only on loopback)' },
);

const connectorId = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'expected lower-case letters, digits and dashes');

const claimName = z.string().min(1).max(200);

export const oidcConnectorSchema = z
  .object({
    id: connectorId,
    /** Slug of the org its people belong to; absent: the installation's default org. */
    org: z
      .string()
      .regex(/^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$/, 'an org slug')
      .optional(),
    issuer: issuerUrl,
    clientId: z.string().min(1).max(500),
    /** A file holding the client secret (never the secret inline). Absent: a public client (PKCE only). */
    clientSecretFile: z.string().min(1).optional(),
    scopes: z
      .array(z.string().regex(/^[\x21\x23-\x5b\x5d-\x7e]+$/))
      .default(['openid', 'email', 'profile']),
    redirectPath: z
      .string()
      .regex(/^\/[A-Za-z0-9/_.~-]*$/, 'expected an absolute path')
      .optional(),
    claims: z
      .object({
        username: claimName.default('preferred_username'),
        displayName: claimName.default('name'),
        email: claimName.default('email'),
        groups: claimName.default('groups'),
      })
      .strict()
      .prefault({}),
    /** Lower-case domains; empty means any. */
    allowedEmailDomains: z
      .array(
        z
          .string()
          .regex(/^[a-z0-9.-]+$/i, 'expected a domain')
          .transform((d) => d.toLowerCase()),
      )
      .default([]),
    requireVerifiedEmail: z.boolean().default(true),
    groupRoles: z.record(z.string().min(1), z.enum(['admin', 'member'])).default({}),
    /** Extra CA (PEM file) trusted for this issuer only, e.g. an internal PKI. */
    caFile: z.string().min(1).optional(),
  })
  .strict()
  .transform((c) => ({
    ...c,
    scopes: c.scopes.includes('openid') ? c.scopes : ['openid', ...c.scopes],
    redirectPath: c.redirectPath ?? `/v1/auth/oidc/${c.id}/callback`,
  }));

export const oidcConnectorsSchema = z
  .array(oidcConnectorSchema)
  .default([])
  .refine((list) => new Set(list.map((c) => c.id)).size === list.length, {
    error: 'connector ids must be unique',
  });

export type OidcConnectorInput = z.input<typeof oidcConnectorSchema>;
export type OidcConnectorConfig = z.output<typeof oidcConnectorSchema>;
