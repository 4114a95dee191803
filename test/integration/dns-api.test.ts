/**
 * The DNS firewall's directory API on both back ends: zones and records
 * with their ledger entries, bad records refused with nothing changed,
 * tenants kept apart (ids of another org answer like ids never used, apexes
 * and address ranges are not shared), client registration that shows the
 * token once and keeps only its hash, and revocation.
 * (Snapshot, query log and retention: dns-directory.test.ts.)
 */
import assert from 'node:assert/strict';
import { createHash, randomUUID, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import {
  type ClientJson,
  dnsPublicOrigin,
  dnsWorld,
  errorOf,
  fakeStats,
  type GroupJson,
  type RecordJson,
  type ZoneJson,
} from '../support/dns-app.ts';
import { makeTestPki } from '../support/pki.ts';
import { tempDir } from '../support/temp.ts';

const line = (r: RecordJson) => `${r.name} ${r.type} ${r.data}`;

for (const backend of ['sqlite', 'postgres'] as const) {
  describe(`DNS directory API (${backend})`, () => {
    it('zones and records: created, replaced, deleted, each with its ledger entry', async (t) => {
      const w = await dnsWorld(t, backend);
      if (!w) return;
      const zones = `/v1/orgs/${w.world.acme}/dns/zones`;
      const made = await w.ok<{ zone: ZoneJson }>(w.admin, zones, 201, {
        method: 'POST',
        body: { name: 'Corp.Example.ORG.' },
      });
      assert.equal(made.zone.name, 'corp.example.org', 'stored in one spelling');
      const zone = `${zones}/${made.zone.id}`;

      const www = await w.ok<{ record: RecordJson }>(w.admin, `${zone}/records`, 201, {
        method: 'POST',
        body: { name: 'www.corp.example.org', type: 'A', ttl: 300, data: '192.0.2.10' },
      });
      assert.deepEqual(
        [www.record.name, www.record.type, www.record.ttl, www.record.data],
        ['www.corp.example.org', 'A', 300, '192.0.2.10'],
      );
      await w.ok(w.admin, `${zone}/records`, 201, {
        method: 'POST',
        body: { name: 'mail.corp.example.org', type: 'MX', data: '10 mx.corp.example.org' },
      });
      const replaced = await w.ok<{ record: RecordJson }>(
        w.admin,
        `${zone}/records/${www.record.id}`,
        200,
        {
          method: 'PUT',
          body: { name: 'www.corp.example.org', type: 'AAAA', ttl: 600, data: '2001:db8::10' },
        },
      );
      assert.deepEqual([replaced.record.type, replaced.record.data], ['AAAA', '2001:db8::10']);

      const read = await w.ok<{ zone: ZoneJson }>(w.admin, zone, 200);
      assert.deepEqual(read.zone.records.map(line).sort(), [
        'mail.corp.example.org MX 10 mx.corp.example.org',
        'www.corp.example.org AAAA 2001:db8::10',
      ]);
      const listed = await w.ok<{ zones: ZoneJson[] }>(w.admin, zones, 200);
      assert.deepEqual(
        listed.zones.map((z) => z.name),
        ['corp.example.org'],
      );

      await w.ok(w.admin, `${zone}/records/${www.record.id}`, 204, { method: 'DELETE' });
      await w.ok(w.admin, zone, 204, { method: 'DELETE' });
      assert.equal(errorOf(await w.call(w.admin, zone)).code, 'not_found');

      const entries = (await w.ledger()).filter((e) => e.action.startsWith('dns.'));
      assert.deepEqual(
        entries.map((e) => e.action),
        [
          'dns.zone.create',
          'dns.record.create',
          'dns.record.create',
          'dns.record.update',
          'dns.record.delete',
          'dns.zone.delete',
        ],
      );
      assert.ok(
        entries.every((e) => e.org === w.world.acme),
        'every entry is about Acme',
      );
      assert.equal(entries[3]?.target.id, www.record.id);
      assert.equal(w.app.changes(), 6, 'the snapshot owner heard of every change');
    });

    it('bad records are refused with the reason, and nothing changes', async (t) => {
      const w = await dnsWorld(t, backend);
      if (!w) return;
      const zones = `/v1/orgs/${w.world.acme}/dns/zones`;
      const made = await w.ok<{ zone: ZoneJson }>(w.admin, zones, 201, {
        method: 'POST',
        body: { name: 'lab.example' },
      });
      const records = `${zones}/${made.zone.id}/records`;
      await w.ok(w.admin, records, 201, {
        method: 'POST',
        body: { name: 'host.lab.example', type: 'A', data: '192.0.2.1' },
      });
      const alias = await w.ok<{ record: RecordJson }>(w.admin, records, 201, {
        method: 'POST',
        body: { name: 'alias.lab.example', type: 'CNAME', data: 'host.lab.example' },
      });
      const entriesBefore = (await w.ledger()).length;
      const changesBefore = w.app.changes();

      const refused: [Record<string, unknown>, number, RegExp][] = [
        [{ name: 'host.lab.example', type: 'A', data: 'not-an-address' }, 400, /^Record refused: /],
        [
          { name: 'host.lab.example', type: 'SOA', data: 'x' },
          400,
          /record type 'SOA' is not supported/,
        ],
        [{ name: 'www.other.example.', type: 'A', data: '192.0.2.2' }, 400, /outside the zone/],
        [{ name: 'host.lab.example', type: 'A', ttl: -1, data: '192.0.2.2' }, 400, /TTL/],
        [
          { name: 'host.lab.example', type: 'CNAME', data: 'alias.lab.example' },
          409,
          /a CNAME must be the only record at its name/,
        ],
        [
          { name: 'alias.lab.example', type: 'TXT', data: 'hello' },
          409,
          /alias\.lab\.example is a CNAME/,
        ],
        [
          { name: 'host.lab.example', type: 'A', data: '192.0.2.1' },
          409,
          /has this A record already/,
        ],
        [{ name: 'host.lab.example', type: 'A', data: '192.0.2.1', extra: 1 }, 400, /extra/],
      ];
      for (const [input, status, message] of refused) {
        const answer = await w.call(w.admin, records, { method: 'POST', body: input });
        assert.equal(answer.status, status, `${JSON.stringify(input)}: ${answer.body}`);
        assert.match(errorOf(answer).message ?? '', message, JSON.stringify(input));
      }
      // A replacement that would clash is refused too, and the record stays as it was.
      const clash = await w.call(w.admin, `${records}/${alias.record.id}`, {
        method: 'PUT',
        body: { name: 'host.lab.example', type: 'CNAME', data: 'elsewhere.example' },
      });
      assert.equal(clash.status, 409, clash.body);

      const zone = await w.ok<{ zone: ZoneJson }>(w.admin, `${zones}/${made.zone.id}`, 200);
      assert.deepEqual(zone.zone.records.map(line), [
        'host.lab.example A 192.0.2.1',
        'alias.lab.example CNAME host.lab.example',
      ]);
      assert.equal((await w.ledger()).length, entriesBefore, 'no ledger entry for a refusal');
      assert.equal(w.app.changes(), changesBefore, 'no snapshot rebuild for a refusal');

      for (const name of ['com', '', 'bad..name', `${'x'.repeat(64)}.example`, 42]) {
        const answer = await w.call(w.admin, zones, { method: 'POST', body: { name } });
        assert.equal(answer.status, 400, `${name}: ${answer.body}`);
      }
    });

    it('tenants stay apart: another org’s ids answer like ids never used', async (t) => {
      const w = await dnsWorld(t, backend);
      if (!w) return;
      const acme = `/v1/orgs/${w.world.acme}/dns`;
      const initech = `/v1/orgs/${w.world.initech}/dns`;
      const post = (path: string, body: unknown) => ({ method: 'POST', body, path });
      const { zone } = await w.ok<{ zone: ZoneJson }>(w.admin, `${acme}/zones`, 201, {
        method: 'POST',
        body: { name: 'acme.example' },
      });
      const { record } = await w.ok<{ record: RecordJson }>(
        w.admin,
        `${acme}/zones/${zone.id}/records`,
        201,
        post('', { name: 'www.acme.example', type: 'A', data: '192.0.2.1' }),
      );
      const { group } = await w.ok<{ group: GroupJson }>(
        w.admin,
        `${acme}/groups`,
        201,
        post('', { name: 'Laptops', sourceCidrs: ['10.20.0.0/16'] }),
      );
      const { client } = await w.ok<{ client: ClientJson }>(
        w.admin,
        `${acme}/groups/${group.id}/clients`,
        201,
        post('', { name: 'ceo laptop' }),
      );
      const entries = (await w.ledger()).length;

      // Acme's own URLs: Initech's admin may not know Acme exists; Acme's member may not look.
      for (const path of [
        `${acme}/zones`,
        `${acme}/groups`,
        `${acme}/query-log`,
        `${acme}/stats`,
      ]) {
        assert.equal(errorOf(await w.call(w.otherAdmin, path)).code, 'not_found', path);
        assert.equal(errorOf(await w.call(w.member, path)).code, 'forbidden', path);
        assert.equal((await w.call(null, path)).status, 401, path);
      }
      // Acme's ids under Initech's own org: exactly what an unknown id gets.
      const attempts: [string, string, unknown?][] = [
        ['GET', `${initech}/zones/${zone.id}`],
        ['DELETE', `${initech}/zones/${zone.id}`],
        [
          'POST',
          `${initech}/zones/${zone.id}/records`,
          { name: 'evil.acme.example', type: 'A', data: '192.0.2.66' },
        ],
        [
          'PUT',
          `${initech}/zones/${zone.id}/records/${record.id}`,
          { name: 'www.acme.example', type: 'A', data: '192.0.2.66' },
        ],
        ['DELETE', `${initech}/zones/${zone.id}/records/${record.id}`],
        ['PUT', `${initech}/groups/${group.id}`, { name: 'Mine now' }],
        ['DELETE', `${initech}/groups/${group.id}`],
        ['GET', `${initech}/groups/${group.id}/clients`],
        ['POST', `${initech}/groups/${group.id}/clients`, { name: 'spy' }],
        ['DELETE', `${initech}/clients/${client.id}`],
      ];
      for (const [method, path, input] of attempts) {
        const real = await w.call(w.otherAdmin, path, { method, body: input });
        const unused = [zone.id, record.id, group.id, client.id].reduce(
          (p, id) => p.replaceAll(id, randomUUID()),
          path,
        );
        const never = await w.call(w.otherAdmin, unused, { method, body: input });
        assert.equal(real.status, 404, `${method} ${path}: ${real.body}`);
        assert.equal(errorOf(real).code, 'not_found');
        assert.deepEqual([real.status, real.body], [never.status, never.body], `${method} ${path}`);
      }
      assert.equal((await w.ledger()).length, entries, 'nothing of Acme changed');
      assert.deepEqual(
        (await w.ok<{ zones: [] }>(w.otherAdmin, `${initech}/zones`, 200)).zones,
        [],
      );

      // One name, one org: the same apex, one inside it and one around it are all refused.
      const claim = (token: string, name: string) =>
        w.call(token, `${token === w.admin ? acme : initech}/zones`, {
          method: 'POST',
          body: { name },
        });
      const cases: [string, string, RegExp][] = [
        [w.otherAdmin, 'ACME.example', /acme\.example is managed by another org/],
        [w.otherAdmin, 'corp.acme.example', /inside acme\.example, which another org manages/],
        [w.admin, 'acme.example', /This org has the zone acme\.example already/],
      ];
      for (const [token, name, message] of cases) {
        const answer = await claim(token, name);
        assert.equal(answer.status, 409, `${name}: ${answer.body}`);
        assert.match(errorOf(answer).message ?? '', message);
      }
      await w.ok(w.otherAdmin, `${initech}/zones`, 201, post('', { name: 'initech.example' }));
      const around = await claim(w.admin, 'example.net');
      assert.equal(around.status, 201, 'an unrelated name is free');
      const wrapping = await w.call(w.admin, `${acme}/zones`, {
        method: 'POST',
        body: { name: 'sub.initech.example' },
      });
      assert.match(errorOf(wrapping).message ?? '', /which another org manages/);
      // An org may nest its own zones.
      await w.ok(w.admin, `${acme}/zones`, 201, post('', { name: 'lab.acme.example' }));

      // Address ranges are not shared either, nor may a group name another org's project.
      const overlap = await w.call(w.otherAdmin, `${initech}/groups`, {
        method: 'POST',
        body: { name: 'Everyone', sourceCidrs: ['10.0.0.0/8'] },
      });
      assert.equal(overlap.status, 409, overlap.body);
      assert.match(
        errorOf(overlap).message ?? '',
        /10\.0\.0\.0\/8 overlaps the range of another org's client group/,
      );
      const foreignProject = await w.call(w.otherAdmin, `${initech}/groups`, {
        method: 'POST',
        body: { name: 'Apollo', projectId: w.world.apollo },
      });
      assert.equal(foreignProject.status, 404, foreignProject.body);
      assert.equal(errorOf(foreignProject).message, 'No such project in this org.');
      await w.ok(
        w.otherAdmin,
        `${initech}/groups`,
        201,
        post('', { name: 'Laptops', sourceCidrs: ['10.21.0.0/16'] }),
      );

      // Statistics come from the resolver's callback, asked for the caller's org only.
      const stats = await w.ok(w.admin, `${acme}/stats`, 200);
      assert.deepEqual(stats, { stats: fakeStats });
      assert.deepEqual(w.app.statsAskedFor, [w.world.acme]);
    });

    it('changes need a fresh step-up; reading does not', async (t) => {
      const w = await dnsWorld(t, backend);
      if (!w) return;
      const { token } = await w.server.handle
        .identity()
        .sessions.create(w.world.people.orgAdmin.id, { kind: 'bearer', methods: ['passkey'] });
      const zones = `/v1/orgs/${w.world.acme}/dns/zones`;
      assert.equal((await w.call(token, zones)).status, 200);
      const change = await w.call(token, zones, { method: 'POST', body: { name: 'a.example' } });
      assert.equal(errorOf(change).code, 'step_up_required');
    });

    it('clients: the DoH URL is shown once, only its hash is kept, revocation ends it', async (t) => {
      const w = await dnsWorld(t, backend);
      if (!w) return;
      const acme = `/v1/orgs/${w.world.acme}/dns`;
      const { group } = await w.ok<{ group: GroupJson }>(w.admin, `${acme}/groups`, 201, {
        method: 'POST',
        body: { name: 'Phones' },
      });
      const clients = `${acme}/groups/${group.id}/clients`;
      const made = await w.call(w.admin, clients, {
        method: 'POST',
        body: { name: 'Alice’s phone' },
      });
      assert.equal(made.status, 201, made.body);
      assert.equal(made.headers['cache-control'], 'no-store');
      const { client, dohUrl } = made.json as { client: ClientJson; dohUrl: string };
      const match = new RegExp(`^${dnsPublicOrigin}/dns-query/([A-Za-z0-9_-]{43})$`).exec(dohUrl);
      const token = match?.[1];
      assert.ok(token, dohUrl);
      assert.deepEqual(Object.keys(client).sort(), [
        'certFingerprint',
        'createdAt',
        'groupId',
        'id',
        'name',
        'revokedAt',
      ]);

      // Nowhere again: not in the listing, not in any stored row; the resolver gets the hash.
      const listed = await w.call(w.admin, clients);
      assert.ok(!listed.body.includes(token), 'the listing holds no token');
      const db = w.server.handle.storage().db;
      const stored = JSON.stringify([
        await db.selectFrom('dns_clients').selectAll().execute(),
        await db.selectFrom('audit_entries').selectAll().execute(),
        await db.selectFrom('object_versions').selectAll().execute(),
      ]);
      assert.ok(!stored.includes(token), 'no stored row holds the token');
      const hash = createHash('sha256').update(token).digest('hex');
      const row = await db
        .selectFrom('dns_clients')
        .selectAll()
        .where('id', '=', client.id)
        .executeTakeFirstOrThrow();
      assert.equal(row.token_hash, hash);
      let snapshot = await w.app.dns.snapshot();
      assert.deepEqual(
        snapshot.clients.map((c) => [c.id, c.tokenHash, c.groupId]),
        [[client.id, hash, group.id]],
      );

      // A DoT client certificate: its fingerprint is SHA-256 of the DER; garbage and keys refused.
      const pki = await makeTestPki(tempDir(t), 'dns clients');
      const pem = readFileSync(pki.clientCertFile, 'utf8');
      const withCert = await w.ok<{ client: ClientJson }>(w.admin, clients, 201, {
        method: 'POST',
        body: { name: 'Laptop', certificatePem: pem },
      });
      const fingerprint = createHash('sha256').update(new X509Certificate(pem).raw).digest('hex');
      assert.equal(withCert.client.certFingerprint, fingerprint);
      const refusals: [string, number, RegExp][] = [
        [pem, 409, /registered already/],
        [
          '-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n',
          400,
          /not a readable X\.509 certificate/,
        ],
        ['hello', 400, /expected exactly one PEM certificate/],
        [`${pem}\n${readFileSync(pki.clientKeyFile, 'utf8')}`, 400, /holds a private key/],
      ];
      for (const [certificatePem, status, message] of refusals) {
        const answer = await w.call(w.admin, clients, {
          method: 'POST',
          body: { name: 'Another', certificatePem },
        });
        assert.equal(answer.status, status, answer.body);
        assert.match(errorOf(answer).message ?? '', message);
        assert.ok(!answer.body.includes('PRIVATE KEY'), 'a key is never echoed');
      }

      // A group with active clients stays; revoking ends a client for the resolver at once.
      const groupUrl = `${acme}/groups/${group.id}`;
      const busy = await w.call(w.admin, groupUrl, { method: 'DELETE' });
      assert.equal(busy.status, 409, busy.body);
      assert.match(errorOf(busy).message ?? '', /2 active DNS clients: revoke them first/);
      await w.ok(w.admin, `${acme}/clients/${client.id}`, 204, { method: 'DELETE' });
      const twice = await w.call(w.admin, `${acme}/clients/${client.id}`, { method: 'DELETE' });
      assert.equal(twice.status, 409, twice.body);
      snapshot = await w.app.dns.snapshot();
      assert.deepEqual(
        snapshot.clients.map((c) => c.id),
        [withCert.client.id],
      );
      const after = await w.ok<{ clients: ClientJson[] }>(w.admin, clients, 200);
      assert.ok(after.clients.find((c) => c.id === client.id)?.revokedAt, 'listed as revoked');
      await w.ok(w.admin, `${acme}/clients/${withCert.client.id}`, 204, { method: 'DELETE' });
      await w.ok(w.admin, groupUrl, 204, { method: 'DELETE' });
      assert.deepEqual((await w.app.dns.snapshot()).groups, []);

      const actions = (await w.ledger()).map((e) => e.action).filter((a) => a.startsWith('dns.'));
      assert.deepEqual(actions, [
        'dns.group.create',
        'dns.client.create',
        'dns.client.create',
        'dns.client.revoke',
        'dns.client.revoke',
        'dns.group.delete',
      ]);
    });
  });
}
