/**
 * The audit ledger streamed to a SIEM: a real rsyslog (GnuTLS, RFC 5425
 * syslog over TLS) receives one RFC 5424 message per entry from the real
 * server, in order, over mutual TLS; stopping rsyslog loses nothing (the
 * entries arrive once it is back, at least once); a receiver whose
 * certificate does not chain to the configured CA gets nothing; a
 * malformed configuration stops the start with a clear message.
 */

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { leafHash, toHex } from '@bulwark/ledger';
import type { SiemForwarderStatus } from '../../packages/server/src/audit/siem/forwarder.ts';
import { ConfigError, loadConfig } from '../../packages/server/src/config/index.ts';
import { StartupError } from '../../packages/server/src/server.ts';
import { makeTestPki } from '../support/pki.ts';
import { postgresSchema } from '../support/postgres.ts';
import { startRsyslog } from '../support/rsyslog.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { tempDir } from '../support/temp.ts';

interface Received {
  line: string;
  pri: string;
  timestamp: string;
  hostname: string;
  appName: string;
  procId: string;
  msgId: string;
  sd: string;
  seq: number;
  leafHash: string;
  json: string;
}

/** One line of RSYSLOG_SyslogProtocol23Format: the RFC 5424 message as received. */
function parseLine(line: string): Received {
  const m =
    /^<(\d+)>1 (\S+) (\S+) (\S+) (\S+) (\S+) (\[bulwark@32473(?: [A-Za-z]+="(?:[^"\\\]]|\\["\\\]])*")*\]) \uFEFF(.*)$/.exec(
      line,
    );
  assert.ok(m, `not a Bulwark RFC 5424 line: ${line}`);
  const [, pri = '', timestamp = '', hostname = '', appName = '', procId = '', msgId = ''] = m;
  const sd = m[7] ?? '';
  const param = (name: string) => new RegExp(` ${name}="([^"]*)"`).exec(sd)?.[1] ?? '';
  return {
    line,
    pri,
    timestamp,
    hostname,
    appName,
    procId,
    msgId,
    sd,
    seq: Number(param('seq')),
    leafHash: param('leafHash'),
    json: m[8] ?? '',
  };
}

const bulwarkLines = (lines: string[]) => lines.map(parseLine);

interface StoredEntry {
  seq: number;
  text: string;
  leafHash: string;
}

async function storedEntries(server: TestServer): Promise<StoredEntry[]> {
  const rows = await server.handle
    .storage()
    .db.selectFrom('audit_entries')
    .select(['seq', 'entry', 'leaf_hash'])
    .orderBy('seq')
    .execute();
  return rows.map((r) => ({ seq: Number(r.seq), text: r.entry, leafHash: r.leaf_hash }));
}

async function until<T>(
  what: string,
  probe: () => T | Promise<T>,
  ok: (value: T) => boolean,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (ok(value)) return value;
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(value)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Init, and an admin with a bearer session (as audit-ledger.test.ts does). */
async function initWithAdmin(server: TestServer) {
  const init = await server.request('/v1/sys/init', {
    method: 'POST',
    body: { passphrase: 'audit siem passphrase' },
  });
  assert.equal(init.status, 200, init.body);
  const identity = server.handle.identity();
  const admin = await identity.users.create({
    displayName: 'Root',
    username: 'root',
    isAdmin: true,
    orgRole: 'owner',
  });
  const { token } = await identity.sessions.create(admin.id, {
    kind: 'bearer',
    methods: ['passkey'],
    stepUp: true,
  });
  const headers = { authorization: `Bearer ${token}` };
  return async (username: string) => {
    const created = await server.request('/v1/admin/users', {
      method: 'POST',
      body: { displayName: username, username },
      headers,
    });
    assert.equal(created.status, 201, created.body);
  };
}

/**
 * Each received seq is either the next one or a resend of one already
 * received (after a reconnect): nothing skipped, nothing out of order.
 */
function assertInOrderAtLeastOnce(received: Received[], upTo: number): void {
  let max = -1;
  for (const r of received) {
    if (r.seq > max) {
      assert.equal(r.seq, max + 1, `entry ${max + 1} was skipped: ${received.map((x) => x.seq)}`);
      max = r.seq;
    }
  }
  assert.equal(max, upTo, `received up to ${max}, expected ${upTo}`);
}

function siemStatus(server: TestServer): SiemForwarderStatus {
  const [status] = server.handle.siem();
  assert.ok(status, 'one sink');
  return status;
}

for (const backend of ['sqlite', 'postgres'] as const) {
  describe(`audit ledger to a SIEM over syslog/TLS (rsyslog, ${backend})`, () => {
    it('sends each entry as RFC 5424 over mutual TLS, in order, and loses nothing while rsyslog is down', async (t) => {
      const pg = backend === 'postgres' ? await postgresSchema(t) : null;
      if (backend === 'postgres' && !pg) return;
      const rsyslog = await startRsyslog(t, { authMode: 'x509/certvalid' });
      if (!rsyslog) return;
      const server = await startTestServer(t, {
        dataDir: tempDir(t),
        postgres: pg,
        config: {
          audit: {
            siem: [
              {
                id: 'soc',
                url: rsyslog.url,
                caFile: rsyslog.pki.caFile,
                certFile: rsyslog.pki.clientCertFile,
                keyFile: rsyslog.pki.clientKeyFile,
                hostname: 'bulwark-test',
              },
            ],
          },
        },
      });
      const createUser = await initWithAdmin(server);
      for (const name of ['alice', 'bob', 'carol']) await createUser(name);

      let stored = await storedEntries(server);
      const lastSeq = stored.length - 1;
      assert.ok(stored.length >= 5, 'init, org, three users');
      const lines = await rsyslog.waitFor((l) => bulwarkLines(l).some((r) => r.seq === lastSeq));
      const received = bulwarkLines(lines);
      assertInOrderAtLeastOnce(received, lastSeq);
      for (const entry of stored) {
        const r = received.find((x) => x.seq === entry.seq);
        assert.ok(r, `entry ${entry.seq} received`);
        const parsed = JSON.parse(entry.text) as { time: string; action: string };
        assert.equal(r.pri, '109');
        assert.equal(r.timestamp, parsed.time);
        assert.equal(r.hostname, 'bulwark-test');
        assert.equal(r.appName, 'bulwark');
        assert.equal(r.procId, '-');
        assert.equal(r.msgId, parsed.action.slice(0, 32));
        assert.equal(r.leafHash, entry.leafHash);
        assert.ok(r.sd.includes(` action="${parsed.action}"`), r.sd);
        // The JSON as stored, so the SIEM can check it against the ledger's proofs.
        assert.equal(r.json, entry.text);
        assert.equal(toHex(leafHash(new TextEncoder().encode(r.json))), entry.leafHash);
      }
      assert.deepEqual(
        received.filter((r) => r.msgId === 'user.create').length >= 3,
        true,
        'the three users',
      );
      const status = await until(
        'the cursor to reach the last entry',
        () => siemStatus(server),
        (s) => s.lastSentSeq === lastSeq,
      );
      assert.equal(status.connected, true);
      assert.equal(status.lag, 0);
      const cursor = await server.handle
        .storage()
        .db.selectFrom('bulwark_meta')
        .select('value')
        .where('key', '=', 'siem.cursor.soc')
        .executeTakeFirst();
      assert.equal(cursor?.value, String(lastSeq));

      // The SIEM goes away; changes go on (the ledger never waits for it).
      await rsyslog.stop();
      await until(
        'the forwarder to see the SIEM gone',
        () => siemStatus(server),
        (s) => !s.connected,
      );
      for (const name of ['dave', 'erin', 'frank']) await createUser(name);
      stored = await storedEntries(server);
      const newLast = stored.length - 1;
      const waiting = await until(
        'the forwarder to notice the SIEM is unreachable',
        () => siemStatus(server),
        (s) => s.lastError !== null && s.lag === newLast - lastSeq,
      );
      assert.equal(waiting.lastSentSeq, lastSeq, 'nothing counted as sent while the SIEM is down');

      await rsyslog.start();
      const after = bulwarkLines(
        await rsyslog.waitFor((l) => bulwarkLines(l).some((r) => r.seq === newLast), 30_000),
      );
      assertInOrderAtLeastOnce(after, newLast);
      for (const entry of stored) {
        const copies = after.filter((r) => r.seq === entry.seq);
        assert.ok(copies.length >= 1, `entry ${entry.seq} received`);
        for (const c of copies) assert.equal(c.json, entry.text, 'a resend is the same message');
      }
      await until(
        'the cursor to catch up',
        () => siemStatus(server),
        (s) => s.connected && s.lastSentSeq === newLast && s.lag === 0,
      );

      // Sealing sends its own entry before the stream stops.
      await server.close();
      const sealed = bulwarkLines(
        await rsyslog.waitFor((l) => bulwarkLines(l).some((r) => r.msgId === 'sys.seal')),
      );
      assertInOrderAtLeastOnce(sealed, newLast + 1);
    });
  });
}

describe('audit ledger to a SIEM: refusals', () => {
  it('sends nothing to a receiver whose certificate does not chain to the configured CA, and says why', async (t) => {
    const rsyslog = await startRsyslog(t);
    if (!rsyslog) return;
    const other = await makeTestPki(join(tempDir(t), 'pki'), 'Some other CA');
    const server = await startTestServer(t, {
      dataDir: tempDir(t),
      config: { audit: { siem: [{ id: 'soc', url: rsyslog.url, caFile: other.caFile }] } },
    });
    const createUser = await initWithAdmin(server);
    // The ledger is not held up by a SIEM it cannot reach.
    await createUser('alice');
    const status = await until(
      'the certificate error',
      () => siemStatus(server),
      (s) => s.lastError !== null && s.lag >= 3,
    );
    assert.match(status.lastError ?? '', /certificate|verify/i);
    assert.equal(status.connected, false);
    assert.equal(status.lastSentSeq, null);
    assert.ok(status.lag >= 3, `lag ${status.lag}`);
    await new Promise((r) => setTimeout(r, 1500));
    assert.deepEqual(rsyslog.lines(), [], 'rsyslog received nothing');
    const cursor = await server.handle
      .storage()
      .db.selectFrom('bulwark_meta')
      .select('value')
      .where('key', '=', 'siem.cursor.soc')
      .executeTakeFirst();
    assert.equal(cursor, undefined, 'no cursor');
  });

  it('refuses a malformed audit.siem configuration with a clear message', (t) => {
    const dir = tempDir(t);
    const load = (audit: unknown) => {
      writeFileSync(join(dir, 'bulwark.config.json'), JSON.stringify({ audit }));
      try {
        loadConfig({ cwd: dir, env: {} });
      } catch (err) {
        assert.ok(err instanceof ConfigError, String(err));
        return err.problems.map((p) => p.replace(/^config file \S+: /, ''));
      }
      assert.fail('accepted');
    };
    assert.deepEqual(
      load({
        siem: [
          {
            id: 'SOC 1',
            url: 'syslog://siem.example.org',
            caFile: '',
            certFile: '/etc/bulwark/client.crt',
            enterpriseId: 'acme',
            hostnam: 'x',
          },
        ],
      }),
      [
        'audit.siem[0].id: expected lower-case letters, digits and dashes (at most 63), starting with a letter or digit',
        'audit.siem[0].url: expected tls://host:port or tls://host (port 6514), without path, query or credentials; host a DNS name or IP literal',
        'audit.siem[0].caFile: expected a file path',
        'audit.siem[0].enterpriseId: expected a private enterprise number like 32473 (optionally with .sub-ids)',
        'audit.siem[0].hostnam: unknown key; allowed keys here: id, url, caFile, certFile, keyFile, hostname, enterpriseId',
        'audit.siem[0].certFile: set without keyFile; a client certificate needs its key (give both or neither)',
      ],
    );
    assert.deepEqual(
      load({
        siem: [
          { id: 'a', url: 'tls://siem.example.org:0', caFile: '/ca.pem' },
          { id: 'a', url: 'tls://siem.example.org/path', caFile: '/ca.pem', hostname: 'two words' },
        ],
      }),
      [
        'audit.siem[0].url: expected tls://host:port or tls://host (port 6514), without path, query or credentials; host a DNS name or IP literal',
        'audit.siem[1].url: expected tls://host:port or tls://host (port 6514), without path, query or credentials; host a DNS name or IP literal',
        'audit.siem[1].hostname: expected 1 to 255 printable US-ASCII characters, no spaces',
        'audit.siem: sink ids must be unique',
      ],
    );
    assert.deepEqual(load({ sinks: [] }), ['unknown key `audit.sinks`; allowed keys here: siem']);
    assert.deepEqual(load({ siem: { id: 'a' } }), ['audit.siem: expected a list of SIEM sinks']);

    // Valid: port 6514 by default, the enterprise number as a number or text.
    writeFileSync(
      join(dir, 'bulwark.config.json'),
      JSON.stringify({
        audit: {
          siem: [
            { id: 'a', url: 'tls://SIEM.example.org', caFile: '/ca.pem', enterpriseId: 1234 },
            { id: 'b', url: 'tls://[::1]:1514', caFile: '/ca.pem' },
          ],
        },
      }),
    );
    const { config } = loadConfig({ cwd: dir, env: {} });
    assert.deepEqual(
      config.audit.siem.map((s) => [s.host, s.port, s.enterpriseId]),
      [
        ['siem.example.org', 6514, '1234'],
        ['::1', 1514, '32473'],
      ],
    );
  });

  it('refuses to start when a sink file is unreadable or not PEM', async (t: TestContext) => {
    const dir = tempDir(t);
    const missing = join(dir, 'missing-ca.pem');
    await assert.rejects(
      startTestServer(t, {
        dataDir: tempDir(t),
        config: { audit: { siem: [{ id: 'soc', url: 'tls://127.0.0.1', caFile: missing }] } },
      }),
      (err: Error) =>
        err instanceof StartupError &&
        err.message === `audit.siem soc: cannot read ${missing} (ENOENT)`,
    );
    const garbage = join(dir, 'garbage.pem');
    writeFileSync(garbage, 'not a certificate\n');
    await assert.rejects(
      startTestServer(t, {
        dataDir: tempDir(t),
        config: { audit: { siem: [{ id: 'soc', url: 'tls://127.0.0.1', caFile: garbage }] } },
      }),
      (err: Error) =>
        err instanceof StartupError &&
        err.message ===
          `audit.siem soc: the CA file ${garbage} is not usable (no PEM certificate in it)`,
    );
  });
});
