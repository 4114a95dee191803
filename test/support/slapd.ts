/**
 * A real OpenLDAP `slapd` for the LDAP tests, in a temporary directory of
 * its own: slapd.conf (-f), mdb backend, suffix dc=example,dc=org, the
 * memberof and refint overlays, and TLS from a throwaway CA so ldaps:// (its
 * own port) and StartTLS both work. Listens on free loopback ports only
 * (never 389/636): the Debian package's own slapd is neither needed nor
 * touched. Under CI=true a missing slapd fails the test; elsewhere it skips.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { promisify } from 'node:util';
import { makeTestPki } from './pki.ts';
import { freePorts } from './ports.ts';

const run = promisify(execFile);

export const SLAPD_BIN = process.env.TEST_SLAPD_PATH ?? '/usr/sbin/slapd';
const SCHEMA_DIR = '/etc/ldap/schema';
const MODULE_DIR = '/usr/lib/ldap';

export const BASE_DN = 'dc=example,dc=org';
export const ROOT_DN = `cn=admin,${BASE_DN}`;
export const SERVICE_DN = `cn=bulwark,ou=services,${BASE_DN}`;
export const PEOPLE_DN = `ou=people,${BASE_DN}`;
export const GROUPS_DN = `ou=groups,${BASE_DN}`;

export const userDn = (uid: string) => `uid=${uid},${PEOPLE_DN}`;
export const groupDn = (cn: string) => `cn=${cn},${GROUPS_DN}`;

/** The test directory's people: alice ∈ admins ⊂ staff; bob ∈ staff; carol in no group. */
export const testUsers = {
  alice: { password: 'alice-Correct-Horse-1', cn: 'Alice Liddell', mail: 'alice@example.org' },
  bob: { password: 'bob-Battery-Staple-2', cn: 'Bob Builder', mail: 'bob@example.org' },
  carol: { password: 'carol-Tr0ub4dor-3', cn: 'Carol Danvers', mail: 'carol@example.org' },
} as const;

export interface Slapd {
  dir: string;
  /** ldap://127.0.0.1:port (StartTLS available). */
  ldapUrl: string;
  /** ldaps://127.0.0.1:port */
  ldapsUrl: string;
  /** PEM of the throwaway CA, and a file holding it. */
  caPem: string;
  caFile: string;
  /** A file with the service account's password (for bindPasswordFile). */
  servicePasswordFile: string;
  servicePassword: string;
  rootPassword: string;
  /** ldapadd with the root DN. */
  add(ldif: string): Promise<void>;
  /** ldapmodify with the root DN. */
  modify(ldif: string): Promise<void>;
  /** ldapdelete with the root DN. */
  remove(dn: string): Promise<void>;
  /** SIGTERM and wait for exit (idempotent). */
  stop(): Promise<void>;
}

/** null when skipped (no slapd outside CI). */
export async function startSlapd(t: TestContext): Promise<Slapd | null> {
  if (!existsSync(SLAPD_BIN)) {
    const why = `slapd not found at ${SLAPD_BIN} (Debian packages slapd and ldap-utils)`;
    if (process.env.CI === 'true') throw new Error(`slapd is required under CI=true: ${why}`);
    t.skip(why);
    return null;
  }
  // Not tempDir(): slapd must be stopped before its directory is removed.
  const dir = mkdtempSync(join(tmpdir(), 'bulwark-slapd-'));
  let stop = async () => {};
  t.after(async () => {
    await stop();
    rmSync(dir, { recursive: true, force: true });
  });
  const dataDir = join(dir, 'data');
  mkdirSync(dataDir);
  const caFile = join(dir, 'ca.crt');
  await makeTestPki(dir, 'Bulwark test LDAP CA');

  const rootPassword = randomBytes(12).toString('hex');
  const servicePassword = randomBytes(12).toString('hex');
  const servicePasswordFile = join(dir, 'service-password');
  writeFileSync(servicePasswordFile, `${servicePassword}\n`, { mode: 0o600 });

  const conf = join(dir, 'slapd.conf');
  writeFileSync(
    conf,
    [
      ...['core', 'cosine', 'inetorgperson', 'nis'].map((s) => `include ${SCHEMA_DIR}/${s}.schema`),
      `modulepath ${MODULE_DIR}`,
      'moduleload back_mdb',
      'moduleload memberof',
      'moduleload refint',
      `pidfile ${join(dir, 'slapd.pid')}`,
      `argsfile ${join(dir, 'slapd.args')}`,
      `TLSCACertificateFile ${caFile}`,
      `TLSCertificateFile ${join(dir, 'server.crt')}`,
      `TLSCertificateKeyFile ${join(dir, 'server.key')}`,
      'loglevel none',
      'database mdb',
      'maxsize 16777216',
      `suffix "${BASE_DN}"`,
      `rootdn "${ROOT_DN}"`,
      `rootpw ${ssha(rootPassword)}`,
      `directory ${dataDir}`,
      'index objectClass eq',
      'index uid,member eq',
      'overlay memberof',
      'memberof-refint TRUE',
      'overlay refint',
      'refint_attributes member',
      // Passwords: only for binding. Everything else: authenticated readers only.
      'access to attrs=userPassword by self write by anonymous auth by * none',
      'access to * by users read by * none',
      '',
    ].join('\n'),
  );

  const [ldapPort = 0, ldapsPort = 0] = await freePorts(2);
  const ldapUrl = `ldap://127.0.0.1:${ldapPort}`;
  const ldapsUrl = `ldaps://127.0.0.1:${ldapsPort}`;
  let stderr = '';
  // -d 0: stay in the foreground (no fork), so the child is slapd itself.
  const child: ChildProcess = spawn(
    SLAPD_BIN,
    ['-f', conf, '-h', `${ldapUrl}/ ${ldapsUrl}/`, '-d', '0'],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  child.stderr?.on('data', (c: Buffer) => {
    stderr = (stderr + c.toString('utf8')).slice(-4000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let stopped = false;
  stop = async () => {
    if (stopped) return;
    stopped = true;
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
  };
  try {
    await waitForPorts([ldapPort, ldapsPort], child, () => stderr);
  } catch (err) {
    await stop();
    throw err;
  }

  const auth = ['-x', '-H', ldapUrl, '-D', ROOT_DN, '-w', rootPassword];
  const ldif = async (tool: 'ldapadd' | 'ldapmodify', text: string) => {
    const file = join(dir, `${tool}-${randomBytes(4).toString('hex')}.ldif`);
    writeFileSync(file, text);
    await run(tool, [...auth, '-f', file]);
  };
  const slapd: Slapd = {
    dir,
    ldapUrl,
    ldapsUrl,
    caPem: readFileSync(caFile, 'utf8'),
    caFile,
    servicePasswordFile,
    servicePassword,
    rootPassword,
    add: (text) => ldif('ldapadd', text),
    modify: (text) => ldif('ldapmodify', text),
    remove: async (dn) => {
      await run('ldapdelete', [...auth, dn]);
    },
    stop,
  };
  await slapd.add(seedLdif(servicePassword));
  return slapd;
}

function seedLdif(servicePassword: string): string {
  const entries = [
    `dn: ${BASE_DN}\nobjectClass: dcObject\nobjectClass: organization\ndc: example\no: Example`,
    `dn: ${PEOPLE_DN}\nobjectClass: organizationalUnit\nou: people`,
    `dn: ${GROUPS_DN}\nobjectClass: organizationalUnit\nou: groups`,
    `dn: ou=services,${BASE_DN}\nobjectClass: organizationalUnit\nou: services`,
    `dn: ${SERVICE_DN}\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\ncn: bulwark\nuserPassword: ${ssha(servicePassword)}`,
    ...Object.entries(testUsers).map(([uid, u]) =>
      [
        `dn: ${userDn(uid)}`,
        'objectClass: inetOrgPerson',
        `uid: ${uid}`,
        `cn: ${u.cn}`,
        `sn: ${u.cn.split(' ').at(-1)}`,
        `mail: ${u.mail}`,
        `userPassword: ${ssha(u.password)}`,
      ].join('\n'),
    ),
    // Nested: admins is a member of staff, so alice is (transitively) staff.
    `dn: ${groupDn('admins')}\nobjectClass: groupOfNames\ncn: admins\nmember: ${userDn('alice')}`,
    `dn: ${groupDn('staff')}\nobjectClass: groupOfNames\ncn: staff\nmember: ${userDn('bob')}\nmember: ${groupDn('admins')}`,
  ];
  return `${entries.join('\n\n')}\n`;
}

/** {SSHA}: base64(SHA-1(password ‖ salt) ‖ salt), as slappasswd makes it. */
export function ssha(password: string): string {
  const salt = randomBytes(8);
  const digest = createHash('sha1').update(password, 'utf8').update(salt).digest();
  return `{SSHA}${Buffer.concat([digest, salt]).toString('base64')}`;
}

/** A throwaway CA and a server certificate for 127.0.0.1 / localhost (openssl CLI). */
async function waitForPorts(
  ports: number[],
  child: ChildProcess,
  stderr: () => string,
): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (const port of ports) {
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`slapd exited (${child.exitCode ?? child.signalCode}): ${stderr()}`);
      }
      const ok = await new Promise<boolean>((resolve) => {
        const s = connect(port, '127.0.0.1');
        s.once('connect', () => {
          s.destroy();
          resolve(true);
        });
        s.once('error', () => resolve(false));
      });
      if (ok) break;
      if (Date.now() > deadline) throw new Error(`slapd did not listen on ${port}: ${stderr()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}
