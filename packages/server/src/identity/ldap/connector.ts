import { connect as netConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { Client, type Entry, InvalidCredentialsError } from 'ldapts';
import {
  escapeFilterValue,
  normaliseDn,
  type ResolvedLdapConnector,
  userSearchFilter,
} from './config.ts';

/** A directory account as Bulwark sees it. */
export interface LdapIdentity {
  /** entryUUID (OpenLDAP) or objectGUID (AD): stable across renames. */
  externalId: string;
  dn: string;
  username: string;
  displayName: string;
  email: string | null;
  /** Group DNs, nested memberships resolved, normalised (see normaliseDn). */
  groups: string[];
}

export type LdapFailure = 'connect' | 'timeout' | 'tls' | 'service-bind' | 'protocol' | 'ambiguous';

/**
 * The directory could not answer the question (down, timed out, TLS refused,
 * the service account rejected, garbage on the wire, an ambiguous search):
 * distinct from "wrong credentials", which is a plain null. The message
 * names the connector and the cause, never a password.
 */
export class LdapUnavailableError extends Error {
  override name = 'LdapUnavailableError';
  readonly connectorId: string;
  readonly reason: LdapFailure;

  constructor(connectorId: string, reason: LdapFailure, detail: string) {
    super(`LDAP connector "${connectorId}": ${describe(reason)}: ${detail}`);
    this.connectorId = connectorId;
    this.reason = reason;
  }
}

function describe(reason: LdapFailure): string {
  switch (reason) {
    case 'connect':
      return 'the directory cannot be reached';
    case 'timeout':
      return 'the directory did not answer in time';
    case 'tls':
      return 'TLS with the directory failed (is its certificate trusted? set caFile)';
    case 'service-bind':
      return 'the service account (bindDn) was refused';
    case 'protocol':
      return 'the directory answered unexpectedly';
    case 'ambiguous':
      return 'the user search matched more than one entry';
  }
}

const TLS_CODES =
  /CERT|SIGNATURE|ISSUER|SELF_SIGNED|ALTNAME|TLS|SSL|EPROTO|HOSTNAME|UNABLE_TO_(GET|VERIFY)/i;
const CONNECT_CODES = /ECONNREFUSED|ECONNRESET|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EAI_AGAIN|EPIPE/;

function classify(connectorId: string, err: unknown): LdapUnavailableError {
  if (err instanceof LdapUnavailableError) return err;
  const e = err as { code?: unknown; message?: unknown } | null;
  const code = typeof e?.code === 'string' ? e.code : '';
  const message = typeof e?.message === 'string' ? e.message : String(err);
  const detail = `${code ? `${code}: ` : ''}${message.split('\n')[0]?.slice(0, 300) ?? ''}`;
  if (TLS_CODES.test(code) || /certificate|tls|ssl|handshake/i.test(message)) {
    return new LdapUnavailableError(connectorId, 'tls', detail);
  }
  if (/timed? ?out/i.test(message) || code === 'ETIMEDOUT') {
    return new LdapUnavailableError(connectorId, 'timeout', detail);
  }
  if (CONNECT_CODES.test(code) || /socket|connection closed|not established/i.test(message)) {
    return new LdapUnavailableError(connectorId, 'connect', detail);
  }
  return new LdapUnavailableError(connectorId, 'protocol', detail);
}

const MAX_GROUP_DEPTH = 10;
const MAX_USERNAME = 256;

/**
 * Talks to one directory. Every operation opens its own connection, secured
 * (LDAPS, or StartTLS before anything else is sent) and never silently
 * re-established in the clear: ldapts reconnects transparently after a drop,
 * so the socket factory refuses a second connection.
 */
export class LdapConnector {
  readonly config: ResolvedLdapConnector;

  constructor(config: ResolvedLdapConnector) {
    this.config = config;
  }

  get id(): string {
    return this.config.id;
  }

  /**
   * The directory's account for these credentials, or null when they are
   * not accepted (unknown user, wrong or empty password, disabled account).
   * Throws LdapUnavailableError when the directory cannot decide.
   */
  async authenticate(username: string, password: string): Promise<LdapIdentity | null> {
    // An empty password would be an "unauthenticated bind" (RFC 4513 §5.1.2): success without a secret.
    if (password.length === 0 || username.trim().length === 0) return null;
    if (username.length > MAX_USERNAME) return null;
    return this.#withClient(async (client) => {
      const entries = await this.#searchUsers(client, this.#loginFilter(username), 2);
      if (entries.length > 1) {
        throw new LdapUnavailableError(
          this.id,
          'ambiguous',
          'refusing to guess which account is meant; make userFilter unique',
        );
      }
      const entry = entries[0];
      if (!entry) {
        // Same round trips as a wrong password: no account enumeration by timing.
        await bindAsUser(client, `cn=bulwark-no-such-user,${this.config.baseDn}`, password);
        return null;
      }
      if (!(await bindAsUser(client, entry.dn, password))) return null;
      // Back to the service account to read groups (a user may not read them).
      await this.#serviceBind(client);
      return this.#identity(client, entry);
    });
  }

  /** Every account the user filter matches, for sync (paged). */
  async listUsers(): Promise<LdapIdentity[]> {
    return this.#withClient(async (client) => {
      const filter = this.#withEnabled(this.config.userFilter.split('{username}').join('*'));
      const entries = await this.#searchUsers(client, filter, 0);
      const out: LdapIdentity[] = [];
      for (const entry of entries) {
        const identity = await this.#identity(client, entry).catch(() => null);
        if (identity) out.push(identity);
      }
      return out;
    });
  }

  /** Connects and binds the service account; for a config check at startup. */
  async check(): Promise<void> {
    await this.#withClient(async () => {});
  }

  #loginFilter(username: string): string {
    return this.#withEnabled(userSearchFilter(this.config.userFilter, username));
  }

  /** AD: leave out disabled accounts (userAccountControl bit 2). */
  #withEnabled(filter: string): string {
    return this.config.kind === 'active-directory'
      ? `(&${filter}(!(userAccountControl:1.2.840.113556.1.4.803:=2)))`
      : filter;
  }

  async #withClient<T>(fn: (client: Client) => Promise<T>): Promise<T> {
    const { url, ca, timeoutMs, startTls } = this.config;
    const host = new URL(url).hostname.replace(/^\[|\]$/g, '');
    const tlsOptions = {
      ...(ca ? { ca } : {}),
      minVersion: 'TLSv1.2' as const,
      rejectUnauthorized: true,
      host,
      ...(isIp(host) ? {} : { servername: host }),
    };
    let connections = 0;
    const once = () => {
      connections++;
      if (connections > 1) throw new Error('Connection closed; not reconnecting mid-operation');
    };
    const client = new Client({
      url,
      timeout: timeoutMs,
      connectTimeout: timeoutMs,
      // ldapts treats any tlsOptions as "connect with TLS": only for ldaps://.
      ...(startTls ? {} : { tlsOptions }),
      strictDN: false,
      createConnection: ((...args: Parameters<typeof netConnect>) => {
        once();
        return netConnect(...args);
      }) as typeof netConnect,
      createSecureConnection: ((...args: Parameters<typeof tlsConnect>) => {
        // For ldap:// this is the StartTLS upgrade of the one socket; for ldaps:// the connection.
        if (!startTls) once();
        return tlsConnect(...args);
      }) as typeof tlsConnect,
    });
    try {
      if (startTls) await client.startTLS({ ...tlsOptions });
      await this.#serviceBind(client);
      return await fn(client);
    } catch (err) {
      throw classify(this.id, err);
    } finally {
      await client.unbind().catch(() => {});
    }
  }

  async #serviceBind(client: Client): Promise<void> {
    try {
      await client.bind(this.config.bindDn, this.config.bindPassword);
    } catch (err) {
      if (err instanceof InvalidCredentialsError) {
        throw new LdapUnavailableError(this.id, 'service-bind', 'invalid credentials for bindDn');
      }
      throw err;
    }
  }

  async #searchUsers(client: Client, filter: string, sizeLimit: number): Promise<Entry[]> {
    const a = this.config.attributes;
    const attributes = [
      a.username,
      a.displayName,
      a.email,
      a.groups,
      this.config.kind === 'active-directory' ? 'objectGUID' : 'entryUUID',
    ];
    try {
      const { searchEntries } = await client.search(this.config.baseDn, {
        scope: 'sub',
        filter,
        attributes,
        sizeLimit,
        paged: sizeLimit === 0 ? { pageSize: 500 } : false,
        explicitBufferAttributes: ['objectGUID'],
      });
      return searchEntries;
    } catch (err) {
      // sizeLimit 2 exceeded: more than one match.
      if ((err as { code?: unknown }).code === 4) {
        throw new LdapUnavailableError(this.id, 'ambiguous', 'more than one entry matched');
      }
      throw err;
    }
  }

  async #identity(client: Client, entry: Entry): Promise<LdapIdentity> {
    const a = this.config.attributes;
    const externalId =
      this.config.kind === 'active-directory'
        ? guidString(entry.objectGUID)
        : first(entry.entryUUID);
    if (!externalId) {
      throw new LdapUnavailableError(this.id, 'protocol', `${entry.dn} has no stable id`);
    }
    const username = first(entry[a.username]);
    if (!username) {
      throw new LdapUnavailableError(this.id, 'protocol', `${entry.dn} has no ${a.username}`);
    }
    return {
      externalId,
      dn: entry.dn,
      username,
      displayName: first(entry[a.displayName]) ?? username,
      email: first(entry[a.email]) ?? null,
      groups: await this.#groups(client, entry),
    };
  }

  /** Nested groups: AD's in-chain matching rule, else a bounded breadth-first walk. */
  async #groups(client: Client, entry: Entry): Promise<string[]> {
    const base = this.config.groupBaseDn;
    if (this.config.kind === 'active-directory') {
      const { searchEntries } = await client.search(base, {
        scope: 'sub',
        filter: `(member:1.2.840.113556.1.4.1941:=${escapeFilterValue(entry.dn)})`,
        attributes: ['1.1'],
        paged: { pageSize: 500 },
      });
      return [...new Set(searchEntries.map((e) => normaliseDn(e.dn)))].sort();
    }
    const found = new Set<string>();
    for (const dn of all(entry[this.config.attributes.groups])) found.add(normaliseDn(dn));
    // The memberOf overlay lists direct groups only (and may be absent): walk `member` upwards.
    let frontier = [entry.dn, ...found];
    const asked = new Set<string>();
    for (let depth = 0; depth < MAX_GROUP_DEPTH && frontier.length > 0; depth++) {
      const ask = frontier.filter((dn) => !asked.has(normaliseDn(dn)));
      for (const dn of ask) asked.add(normaliseDn(dn));
      if (ask.length === 0) break;
      const clauses = ask
        .map((dn) => `(member=${escapeFilterValue(dn)})(uniqueMember=${escapeFilterValue(dn)})`)
        .join('');
      const { searchEntries } = await client.search(base, {
        scope: 'sub',
        filter: `(|${clauses})`,
        attributes: ['1.1'],
        paged: { pageSize: 500 },
      });
      frontier = [];
      for (const g of searchEntries) {
        const n = normaliseDn(g.dn);
        if (!found.has(n)) frontier.push(g.dn);
        found.add(n);
      }
    }
    return [...found].sort();
  }
}

/** true when the password was accepted; false for invalid credentials. */
async function bindAsUser(client: Client, dn: string, password: string): Promise<boolean> {
  if (password.length === 0) return false;
  try {
    await client.bind(dn, password);
    return true;
  } catch (err) {
    if (err instanceof InvalidCredentialsError) return false;
    throw err;
  }
}

function first(v: Entry[string] | undefined): string | undefined {
  if (v === undefined) return undefined;
  const x = Array.isArray(v) ? v[0] : v;
  if (x === undefined) return undefined;
  return Buffer.isBuffer(x) ? x.toString('utf8') : x;
}

function all(v: Entry[string] | undefined): string[] {
  if (v === undefined) return [];
  return (Array.isArray(v) ? v : [v]).map((x) => (Buffer.isBuffer(x) ? x.toString('utf8') : x));
}

/** objectGUID bytes → the canonical AD string (first three fields little-endian). */
function guidString(v: Entry[string] | undefined): string | undefined {
  const raw = Array.isArray(v) ? v[0] : v;
  if (!Buffer.isBuffer(raw) || raw.length !== 16) return undefined;
  const h = (b: Buffer) => b.toString('hex');
  const le = (s: number, e: number) => h(Buffer.from(raw.subarray(s, e)).reverse());
  return `${le(0, 4)}-${le(4, 6)}-${le(6, 8)}-${h(raw.subarray(8, 10))}-${h(raw.subarray(10, 16))}`;
}

function isIp(host: string): boolean {
  return /^[\d.]+$/.test(host) || host.includes(':');
}
