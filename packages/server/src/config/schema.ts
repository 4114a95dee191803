import { isIP } from 'node:net';
import { z } from 'zod';
import { ldapConfigSchema } from '../identity/ldap/config.ts';
import { oidcConnectorsSchema } from '../identity/oidc/config.ts';
import { dnsAllowedKeys, dnsSchema } from './dns.ts';

/**
 * The server's configuration contract. Every object is strict: a key we do
 * not know is refused, because a misspelt key silently falling back to a
 * default (say `init.alowRemote`) is how a setting meant to be off ends up
 * on. Error texts say what is allowed; they never echo a value, so a
 * database password cannot leak into a start-up message.
 */

export const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** RFC 1123 host name: dot-separated labels of letters, digits and inner hyphens. */
const dnsLabel = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

export function isDnsName(name: string): boolean {
  if (name.length === 0 || name.length > 253) return false;
  return name.split('.').every((label) => dnsLabel.test(label));
}

export function isServerName(name: string): boolean {
  return isIP(name) !== 0 || isDnsName(name.toLowerCase());
}

const booleanError = 'expected true or false';

const serverName = z
  .string({ error: 'expected a DNS name or IP literal' })
  .refine(isServerName, {
    error:
      'expected a DNS name (like bulwark.example.org) or an IP literal (like 192.0.2.10 or ::1)',
  })
  .transform((name) => (isIP(name) !== 0 ? name : name.toLowerCase()));

const filePath = z.string({ error: 'expected a file path' }).min(1, 'expected a file path');

export const listenShape = {
  host: z
    .string({ error: 'expected a host name or IP address to listen on' })
    .min(1, 'expected a host name or IP address to listen on')
    .default('localhost'),
  port: z
    // 0 asks the operating system for any free port (tests, ephemeral runs).
    .int({ error: 'expected an integer between 0 and 65535' })
    .min(0, 'expected an integer between 0 and 65535')
    .max(65535, 'expected an integer between 0 and 65535')
    .default(8443),
};

export const tlsShape = {
  serverNames: z
    .array(serverName, { error: 'expected a list of DNS names or IP literals' })
    .min(1, 'expected a non-empty list of DNS names or IP literals')
    .transform((names) => [...new Set(names)])
    .default(['localhost']),
  certFile: filePath.optional(),
  keyFile: filePath.optional(),
};

export const databaseShape = {
  url: z
    .string({ error: 'expected a postgres:// or postgresql:// URL' })
    .refine(isPostgresUrl, 'expected a postgres:// or postgresql:// URL')
    .optional(),
  schema: z
    .string({ error: 'expected an SQL identifier' })
    .regex(
      /^[a-z_][a-z0-9_]{0,62}$/,
      'expected an SQL identifier: lower-case letters, digits and _, not starting with a digit, at most 63 characters',
    )
    .default('bulwark'),
};

export const logShape = {
  level: z.enum(logLevels, { error: `expected one of ${logLevels.join(', ')}` }).default('info'),
};

export const metricsShape = {
  enabled: z.boolean({ error: booleanError }).default(true),
};

export const initShape = {
  /** Initialisation is accepted only from loopback unless this is true. */
  allowRemote: z.boolean({ error: booleanError }).default(false),
};

/**
 * Login methods the installation allows, until per-org and per-project
 * policies (directory issue) take over. Passkeys are always allowed.
 */
export const smsShape = {
  /** Off by default: SMS codes can be intercepted or redirected (SIM swap). */
  enabled: z.boolean({ error: booleanError }).default(false),
  provider: z
    .enum(['http-gateway', 'dev-log'], { error: "expected 'http-gateway' or 'dev-log'" })
    .default('http-gateway'),
  /** The gateway's URL (http-gateway): it receives POST {"to", "text"} with a bearer token. */
  url: z.url({ error: 'expected an https URL' }).optional(),
  /** File holding the gateway's bearer token (kept out of the config file). */
  bearerTokenFile: filePath.optional(),
};

const aaguid = z
  .string()
  .regex(
    /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i,
    'expected an AAGUID (UUID form)',
  )
  .transform((v) => v.toLowerCase());

/** Which authenticators may register (per org once the directory issue lands). */
export const passkeysShape = {
  /** When not empty, only these authenticator models (e.g. your security keys). */
  allowedAaguids: z.array(aaguid).default([]),
  /** Never these (wins over the allow-list). */
  deniedAaguids: z.array(aaguid).default([]),
  /** Refuse synced (backup-eligible) passkeys: hardware-bound keys only. */
  requireHardwareBound: z.boolean({ error: booleanError }).default(false),
};

export const authShape = {
  passkeys: z
    .object(passkeysShape, {
      error: `expected an object with keys ${Object.keys(passkeysShape).join(', ')}`,
    })
    .strict()
    .prefault({}),
  /** Passwords only where still needed; they always need a second factor too. */
  passwords: z.boolean({ error: booleanError }).default(false),
  sms: z
    .object(smsShape, { error: `expected an object with keys ${Object.keys(smsShape).join(', ')}` })
    .strict()
    .prefault({}),
  /** LDAP / Active Directory connectors (per org once the directory issue lands). */
  ldap: ldapConfigSchema.prefault({}),
  /** OpenID Connect providers (Keycloak, Entra ID, Google, …). */
  oidc: oidcConnectorsSchema,
};

/**
 * A section object: strict, and absent means "all defaults". prefault, not
 * default: the empty object goes through the schema so the inner defaults
 * apply (zod 4 returns a `default` value unparsed).
 */
const sectionError = (shape: object) => ({
  error: `expected an object with keys ${Object.keys(shape).join(', ')}`,
});

/** RFC 5425 (syslog over TLS) assigns port 6514. */
export const defaultSiemPort = 6514;

/** `tls://host[:port]` → host (brackets of an IPv6 literal removed) and port; null when not such a URL. */
export function parseSiemUrl(value: string): { host: string; port: number } | null {
  if (!URL.canParse(value)) return null;
  const url = new URL(value);
  if (url.protocol !== 'tls:' || url.username !== '' || url.password !== '') return null;
  if (url.search !== '' || url.hash !== '' || (url.pathname !== '' && url.pathname !== '/')) {
    return null;
  }
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (!isServerName(host)) return null;
  const port = url.port === '' ? defaultSiemPort : Number(url.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) return null;
  return { host: isIP(host) !== 0 ? host : host.toLowerCase(), port };
}

const enterpriseIdError =
  'expected a private enterprise number like 32473 (optionally with .sub-ids)';
const enterpriseIdPattern = /^[1-9][0-9]{0,15}(?:\.(?:0|[1-9][0-9]{0,8}))*$/;

/** One SIEM receiving the audit ledger as RFC 5424 syslog over TLS (RFC 5425). */
export const siemSinkShape = {
  /** Names the sink in logs and its cursor (`siem.cursor.<id>` in bulwark_meta): keep it stable. */
  id: z
    .string({ error: 'expected a sink id' })
    .regex(
      /^[a-z0-9][a-z0-9-]{0,62}$/,
      'expected lower-case letters, digits and dashes (at most 63), starting with a letter or digit',
    ),
  url: z
    .string({ error: `expected tls://host:port (port ${defaultSiemPort} when omitted)` })
    .refine((value) => parseSiemUrl(value) !== null, {
      error: `expected tls://host:port or tls://host (port ${defaultSiemPort}), without path, query or credentials; host a DNS name or IP literal`,
    }),
  /** The CA (PEM) the SIEM's certificate must chain to; the system's CAs are not used. */
  caFile: filePath,
  /** A client certificate and key (PEM) for mutual TLS. */
  certFile: filePath.optional(),
  keyFile: filePath.optional(),
  /** HOSTNAME of each message; default: the machine's host name. */
  hostname: z
    .string({ error: 'expected a host name' })
    .regex(/^[\x21-\x7e]{1,255}$/, 'expected 1 to 255 printable US-ASCII characters, no spaces')
    .optional(),
  /** The private enterprise number of the SD-ID `bulwark@<enterpriseId>` (32473: IANA's example number). */
  enterpriseId: z
    .union(
      [
        z.int({ error: enterpriseIdError }).min(1, enterpriseIdError),
        z.string().regex(enterpriseIdPattern, enterpriseIdError),
      ],
      {
        error: enterpriseIdError,
      },
    )
    .transform(String)
    .refine((id) => `bulwark@${id}`.length <= 32, {
      error: 'expected at most 24 characters: the SD-ID bulwark@<enterpriseId> is at most 32',
    })
    .default('32473'),
};

const siemSinkKeys = Object.keys(siemSinkShape);

/**
 * Strict like every object here, but an unknown key is reported on its own
 * path with the allowed keys (the loader's list is by path and has no
 * entry for each position of an array).
 */
const siemSinkSchema = z
  .looseObject(siemSinkShape, sectionError(siemSinkShape))
  .check(
    z.superRefine(
      (sink: Record<string, unknown>, ctx) => {
        for (const key of Object.keys(sink)) {
          if (siemSinkKeys.includes(key)) continue;
          ctx.addIssue({
            code: 'custom',
            path: [key],
            message: `unknown key; allowed keys here: ${siemSinkKeys.join(', ')}`,
          });
        }
        if ((sink.certFile === undefined) !== (sink.keyFile === undefined)) {
          const present = sink.certFile === undefined ? 'keyFile' : 'certFile';
          const missing = sink.certFile === undefined ? 'certFile' : 'keyFile';
          ctx.addIssue({
            code: 'custom',
            path: [present],
            message: `set without ${missing}; a client certificate needs its key (give both or neither)`,
          });
        }
      },
      { when: (payload) => typeof payload.value === 'object' && payload.value !== null },
    ),
  )
  .transform((sink) => {
    const target = parseSiemUrl(sink.url) ?? { host: '', port: defaultSiemPort };
    return {
      id: sink.id,
      url: sink.url,
      host: target.host,
      port: target.port,
      caFile: sink.caFile,
      ...(sink.certFile !== undefined ? { certFile: sink.certFile } : {}),
      ...(sink.keyFile !== undefined ? { keyFile: sink.keyFile } : {}),
      ...(sink.hostname !== undefined ? { hostname: sink.hostname } : {}),
      enterpriseId: sink.enterpriseId,
    };
  });

export type SiemSinkConfig = z.output<typeof siemSinkSchema>;

export const auditShape = {
  /** SIEMs the ledger is streamed to (docs/audit.md, "Streaming to a SIEM"). */
  siem: z
    .array(siemSinkSchema, { error: 'expected a list of SIEM sinks' })
    .refine((sinks) => new Set(sinks.map((s) => s.id)).size === sinks.length, {
      error: 'sink ids must be unique',
    })
    .default([]),
};

/** nats://host[:port] or tls://host[:port] (port 4222 when omitted), nothing else. */
export function parseNatsUrl(value: string): { tls: boolean; host: string; port: number } | null {
  if (!URL.canParse(value)) return null;
  const url = new URL(value);
  if (url.protocol !== 'nats:' && url.protocol !== 'tls:') return null;
  // Credentials belong in credsFile, not in a URL that ends up in process lists and logs.
  if (url.username !== '' || url.password !== '') return null;
  if (url.search !== '' || url.hash !== '' || (url.pathname !== '' && url.pathname !== '/')) {
    return null;
  }
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (!isServerName(host)) return null;
  const port = url.port === '' ? 4222 : Number(url.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) return null;
  return { tls: url.protocol === 'tls:', host, port };
}

export const natsTlsShape = {
  /** The CA (PEM) the NATS server's certificate must chain to; default: the system's CAs. */
  caFile: filePath.optional(),
  /** A client certificate and key (PEM) when NATS asks for mutual TLS. */
  certFile: filePath.optional(),
  keyFile: filePath.optional(),
};

export const natsShape = {
  url: z
    .string({ error: 'expected nats://host[:port] or tls://host[:port]' })
    .refine((value) => parseNatsUrl(value) !== null, {
      error:
        'expected nats://host[:port] or tls://host[:port] (port 4222 when omitted), without credentials, path or query; host a DNS name or IP literal',
    }),
  /** The connection's name in NATS monitoring; default bulwark. */
  name: z
    .string({ error: 'expected a connection name' })
    .regex(/^[\x21-\x7e]{1,64}$/, 'expected 1 to 64 printable US-ASCII characters, no spaces')
    .optional(),
  /** TLS to NATS (always used when set, and with a tls:// URL). */
  tls: z
    .object(natsTlsShape, sectionError(natsTlsShape))
    .strict()
    .superRefine((tls, ctx) => {
      if ((tls.certFile === undefined) !== (tls.keyFile === undefined)) {
        const present = tls.certFile === undefined ? 'keyFile' : 'certFile';
        const missing = tls.certFile === undefined ? 'certFile' : 'keyFile';
        ctx.addIssue({
          code: 'custom',
          path: [present],
          message: `set without ${missing}; a client certificate needs its key (give both or neither)`,
        });
      }
    })
    .optional(),
  /** A NATS credentials file (user JWT and NKey seed), for NATS's decentralised auth. */
  credsFile: filePath.optional(),
};

/** Live updates between server nodes: none configured = one node, an in-process bus. */
export const eventsShape = {
  nats: z.object(natsShape, sectionError(natsShape)).strict().optional(),
};

export const topShape = {
  dataDir: z
    .string({ error: 'expected a directory path' })
    .min(1, 'expected a directory path')
    .default('./data'),
  listen: z.object(listenShape, sectionError(listenShape)).strict().prefault({}),
  tls: z
    .object(tlsShape, sectionError(tlsShape))
    .strict()
    .superRefine((tls, ctx) => {
      const hasCert = tls.certFile !== undefined;
      const hasKey = tls.keyFile !== undefined;
      if (hasCert !== hasKey) {
        const present = hasCert ? 'certFile' : 'keyFile';
        const missing = hasCert ? 'keyFile' : 'certFile';
        ctx.addIssue({
          code: 'custom',
          path: [present],
          message: `set without tls.${missing}; give both (your own certificate and its key) or neither (a local CA is then generated)`,
        });
      }
    })
    .prefault({}),
  database: z.object(databaseShape, sectionError(databaseShape)).strict().prefault({}),
  log: z.object(logShape, sectionError(logShape)).strict().prefault({}),
  metrics: z.object(metricsShape, sectionError(metricsShape)).strict().prefault({}),
  init: z.object(initShape, sectionError(initShape)).strict().prefault({}),
  auth: z.object(authShape, sectionError(authShape)).strict().prefault({}),
  audit: z.object(auditShape, sectionError(auditShape)).strict().prefault({}),
  events: z.object(eventsShape, sectionError(eventsShape)).strict().prefault({}),
  dns: dnsSchema.prefault({}),
};

export const configSchema = z.object(topShape, sectionError(topShape)).strict();

export type BulwarkConfig = z.output<typeof configSchema>;

/** The keys allowed in each object of the config, by dotted path ('' is the top). */
export const allowedKeysByPath: Readonly<Record<string, readonly string[]>> = {
  '': Object.keys(topShape),
  listen: Object.keys(listenShape),
  tls: Object.keys(tlsShape),
  database: Object.keys(databaseShape),
  log: Object.keys(logShape),
  metrics: Object.keys(metricsShape),
  init: Object.keys(initShape),
  auth: Object.keys(authShape),
  'auth.sms': Object.keys(smsShape),
  'auth.ldap': ['connectors'],
  'auth.passkeys': Object.keys(passkeysShape),
  audit: Object.keys(auditShape),
  events: Object.keys(eventsShape),
  'events.nats': Object.keys(natsShape),
  'events.nats.tls': Object.keys(natsTlsShape),
  ...dnsAllowedKeys,
};

function isPostgresUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'postgres:' || url.protocol === 'postgresql:';
  } catch {
    return false;
  }
}
