import { readFileSync } from 'node:fs';
import { z } from 'zod';

/**
 * One LDAP / Active Directory connector (SECURITY.md: bind as the user over
 * LDAPS or StartTLS). Plaintext binds are refused here, at config time: an
 * `ldap://` URL is accepted only with `startTls: true`.
 */
export const ldapConnectorSchema = z
  .object({
    id: z
      .string()
      .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'lowercase letters, digits and dashes (max 63)'),
    url: z
      .string()
      .regex(/^ldaps?:\/\/[^/?#\s]+\/?$/i, 'ldaps://host[:port] or ldap://host[:port]'),
    startTls: z.boolean().default(false),
    /** Slug of the org its people belong to (JIT and sync); absent: the installation's default org. */
    org: z
      .string()
      .regex(/^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$/, 'an org slug')
      .optional(),
    /** PEM file of the CA(s) to trust for the directory's certificate; else the system store. */
    caFile: z.string().min(1).optional(),
    bindDn: z.string().min(1),
    bindPasswordFile: z.string().min(1),
    baseDn: z.string().min(1),
    /** Where groups are searched for nested membership (default: baseDn). */
    groupBaseDn: z.string().min(1).optional(),
    kind: z.enum(['openldap', 'active-directory']).default('openldap'),
    /** Must contain `{username}`; the value is escaped per RFC 4515 before substitution. */
    userFilter: z.string().min(1).optional(),
    attributes: z
      .object({
        username: z.string().min(1).optional(),
        displayName: z.string().min(1).optional(),
        email: z.string().min(1).optional(),
        groups: z.string().min(1).default('memberOf'),
      })
      .strict()
      .default({ groups: 'memberOf' }),
    /** Group DN → role. Any group mapped to 'admin' among the user's (nested) groups makes an admin. */
    groupRoles: z.record(z.string().min(1), z.enum(['admin', 'member'])).default({}),
    /** When set, only (nested) members of this group may log in; others are disabled at sync. */
    requiredGroup: z.string().min(1).optional(),
    /** 0 turns the scheduled sync off. */
    syncIntervalMinutes: z
      .number()
      .int()
      .min(0)
      .max(7 * 24 * 60)
      .default(60),
    timeoutMs: z.number().int().min(100).max(120_000).default(10_000),
  })
  .strict()
  .superRefine((c, ctx) => {
    const ldaps = c.url.toLowerCase().startsWith('ldaps://');
    if (!ldaps && !c.startTls) {
      ctx.addIssue({
        code: 'custom',
        path: ['startTls'],
        message:
          'ldap:// without StartTLS would send passwords in the clear: use ldaps:// or set startTls: true',
      });
    }
    if (ldaps && c.startTls) {
      ctx.addIssue({
        code: 'custom',
        path: ['startTls'],
        message: 'startTls is for ldap:// URLs; ldaps:// is already TLS',
      });
    }
    if (c.userFilter !== undefined) {
      if (!c.userFilter.includes('{username}')) {
        ctx.addIssue({
          code: 'custom',
          path: ['userFilter'],
          message: 'userFilter must contain {username}',
        });
      }
      if (!/^\(.*\)$/.test(c.userFilter)) {
        ctx.addIssue({
          code: 'custom',
          path: ['userFilter'],
          message: 'userFilter must be a parenthesised LDAP filter',
        });
      }
    }
  });

export type LdapConnectorInput = z.input<typeof ldapConnectorSchema>;
export type LdapConnectorConfig = z.output<typeof ldapConnectorSchema>;

/** The `ldap` section: a list of connectors with distinct ids. */
export const ldapConfigSchema = z
  .object({ connectors: z.array(ldapConnectorSchema).default([]) })
  .strict()
  .superRefine((c, ctx) => {
    const seen = new Set<string>();
    c.connectors.forEach((k, i) => {
      if (seen.has(k.id)) {
        ctx.addIssue({
          code: 'custom',
          path: ['connectors', i, 'id'],
          message: `duplicate connector id ${k.id}`,
        });
      }
      seen.add(k.id);
    });
  });

export type LdapConfig = z.output<typeof ldapConfigSchema>;

const defaults = {
  openldap: {
    userFilter: '(&(objectClass=person)(uid={username}))',
    username: 'uid',
    displayName: 'cn',
    email: 'mail',
  },
  'active-directory': {
    userFilter: '(&(objectClass=user)(sAMAccountName={username}))',
    username: 'sAMAccountName',
    displayName: 'displayName',
    email: 'mail',
  },
} as const;

/** A connector with its defaults filled in and its secrets read from disk. */
export interface ResolvedLdapConnector {
  id: string;
  /** Org slug its people belong to; null: the installation's default org. */
  org: string | null;
  url: string;
  startTls: boolean;
  /** PEM; null means the system trust store. */
  ca: string | null;
  bindDn: string;
  bindPassword: string;
  baseDn: string;
  groupBaseDn: string;
  kind: 'openldap' | 'active-directory';
  userFilter: string;
  attributes: { username: string; displayName: string; email: string; groups: string };
  groupRoles: Record<string, 'admin' | 'member'>;
  requiredGroup: string | null;
  syncIntervalMinutes: number;
  timeoutMs: number;
}

/**
 * Fills in the kind's defaults and reads the bind password and CA files.
 * `readFile` is injectable for tests. The password file's trailing newline is dropped.
 */
export function resolveLdapConnector(
  cfg: LdapConnectorConfig,
  readFile: (path: string) => string = (p) => readFileSync(p, 'utf8'),
): ResolvedLdapConnector {
  const d = defaults[cfg.kind];
  const bindPassword = readFile(cfg.bindPasswordFile).replace(/\r?\n$/, '');
  if (bindPassword === '') {
    throw new Error(`ldap connector ${cfg.id}: bindPasswordFile ${cfg.bindPasswordFile} is empty`);
  }
  return {
    id: cfg.id,
    org: cfg.org ?? null,
    url: cfg.url.replace(/\/$/, ''),
    startTls: cfg.startTls,
    ca: cfg.caFile ? readFile(cfg.caFile) : null,
    bindDn: cfg.bindDn,
    bindPassword,
    baseDn: cfg.baseDn,
    groupBaseDn: cfg.groupBaseDn ?? cfg.baseDn,
    kind: cfg.kind,
    userFilter: cfg.userFilter ?? d.userFilter,
    attributes: {
      username: cfg.attributes.username ?? d.username,
      displayName: cfg.attributes.displayName ?? d.displayName,
      email: cfg.attributes.email ?? d.email,
      groups: cfg.attributes.groups,
    },
    groupRoles: cfg.groupRoles,
    requiredGroup: cfg.requiredGroup ?? null,
    syncIntervalMinutes: cfg.syncIntervalMinutes,
    timeoutMs: cfg.timeoutMs,
  };
}

/**
 * RFC 4515 §3 escaping of an assertion value: `*`, `(`, `)`, `\`, NUL and
 * every non-ASCII or control byte become `\XX`, so a username can never add
 * wildcards or filter components.
 */
export function escapeFilterValue(value: string): string {
  let out = '';
  for (const byte of Buffer.from(value, 'utf8')) {
    const ch = String.fromCharCode(byte);
    out +=
      byte < 0x20 || byte > 0x7e || ch === '*' || ch === '(' || ch === ')' || ch === '\\'
        ? `\\${byte.toString(16).padStart(2, '0')}`
        : ch;
  }
  return out;
}

/** The user filter with the escaped username substituted for every `{username}`. */
export function userSearchFilter(template: string, username: string): string {
  return template.split('{username}').join(escapeFilterValue(username));
}

/** Canonical form of a DN for comparisons: RDNs trimmed, lowercased (escapes kept). */
export function normaliseDn(dn: string): string {
  const parts: string[] = [];
  let cur = '';
  for (let i = 0; i < dn.length; i++) {
    const ch = dn[i];
    if (ch === '\\' && i + 1 < dn.length) {
      cur += ch + dn[i + 1];
      i++;
    } else if (ch === ',' || ch === ';') {
      parts.push(cur);
      cur = '';
    } else {
      cur += ch;
    }
  }
  parts.push(cur);
  return parts
    .map((p) =>
      p
        .split('+')
        .map((ava) => {
          const eq = ava.indexOf('=');
          return eq < 0 ? ava.trim() : `${ava.slice(0, eq).trim()}=${ava.slice(eq + 1).trim()}`;
        })
        .join('+'),
    )
    .join(',')
    .toLowerCase();
}
