/**
 * What the DNS directory hands the resolver and keeps from it, on both back
 * ends: the snapshot (each client group's policy = org, then project, then
 * the group; categories only add up, the query log only gets less
 * detailed), the query log (privacy mode applied again on the way in,
 * paging, the name filter, retention by policy), and that zone data and
 * logged names are ciphertext in the database.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { QueryLogEntry } from '@bulwark/dns';
import { sql } from 'kysely';
import {
  type DnsWorld,
  dnsWorld,
  errorOf,
  type GroupJson,
  type ZoneJson,
} from '../support/dns-app.ts';

/** The main server's API (policies live there), as one of the world's people. */
async function policyPut(w: DnsWorld, token: string, path: string, body: unknown) {
  return w.server.request(path, {
    method: 'PUT',
    body,
    headers: { authorization: `Bearer ${token}` },
  });
}

/** Sets DNS fields on an org's policy (the rest as it is). */
async function setOrgDns(w: DnsWorld, token: string, orgId: string, dns: Record<string, unknown>) {
  const current = await w.server.request(`/v1/orgs/${orgId}/policy`, {
    headers: { authorization: `Bearer ${token}` },
  });
  const { policy } = current.json as { policy: Record<string, unknown> };
  const answer = await policyPut(w, token, `/v1/orgs/${orgId}/policy`, { ...policy, ...dns });
  assert.equal(answer.status, 200, answer.body);
}

const minutesAgo = (n: number) => new Date(Date.now() - n * 60_000).toISOString();

function entry(fields: Partial<QueryLogEntry>): QueryLogEntry {
  return {
    at: minutesAgo(1),
    client: '192.0.2.77',
    clientId: null,
    groupId: null,
    orgId: null,
    protocol: 'doh',
    name: 'www.example.com',
    type: 'A',
    rcode: 'NOERROR',
    outcome: 'answered',
    category: null,
    rule: null,
    upstream: 'tls://dns.example.net',
    durationMs: 12,
    ...fields,
  };
}

interface LogPage {
  queries: {
    id: string;
    at: string;
    name: string;
    client: string | null;
    clientId: string | null;
    groupId: string | null;
    rule: string | null;
  }[];
  next: string | null;
}

for (const backend of ['sqlite', 'postgres'] as const) {
  describe(`DNS directory: snapshot and query log (${backend})`, () => {
    it('the snapshot: zones, and each group under its org and project policy', async (t) => {
      const w = await dnsWorld(t, backend);
      if (!w) return;
      const acme = `/v1/orgs/${w.world.acme}/dns`;
      await setOrgDns(w, w.owner, w.world.acme, {
        dnsBlockCategories: ['malware', 'phishing', 'trackers'],
        dnsQueryLog: 'full',
      });
      const projectPolicy = `/v1/projects/${w.world.apollo}/policy`;
      // A project may only add categories and log less; leaving one out is refused, saying why.
      const dropped = await policyPut(w, w.owner, projectPolicy, { dnsBlockCategories: ['ads'] });
      assert.equal(dropped.status, 400, dropped.body);
      assert.match(
        errorOf(dropped).message ?? '',
        /dnsBlockCategories: the org policy blocks "malware", "phishing", "trackers"; a project may only add categories/,
      );
      const tightened = await policyPut(w, w.owner, projectPolicy, {
        dnsBlockCategories: ['malware', 'phishing', 'trackers', 'ads'],
        dnsQueryLog: 'anonymised',
      });
      assert.equal(tightened.status, 200, tightened.body);

      const { zone } = await w.ok<{ zone: ZoneJson }>(w.admin, `${acme}/zones`, 201, {
        method: 'POST',
        body: { name: 'corp.example' },
      });
      await w.ok(w.admin, `${acme}/zones/${zone.id}/records`, 201, {
        method: 'POST',
        body: { name: 'intranet.corp.example', type: 'A', data: '10.1.2.3' },
      });
      const apollo = await w.ok<{ group: GroupJson }>(w.admin, `${acme}/groups`, 201, {
        method: 'POST',
        body: {
          name: 'Apollo devices',
          projectId: w.world.apollo,
          sourceCidrs: ['10.8.0.0/16', '2001:db8:8::/48'],
          blockCategories: ['custom'],
          rules: [
            { action: 'block', pattern: 'Ads.Example.COM' },
            { action: 'allow', pattern: '*.good.example' },
            { action: 'block', pattern: '/^track[0-9]+\\./' },
          ],
          answer: 'sinkhole',
          sinkhole: { ipv4: '192.0.2.53' },
        },
      });
      const office = await w.ok<{ group: GroupJson }>(w.admin, `${acme}/groups`, 201, {
        method: 'POST',
        body: { name: 'Office', blockCategories: ['ads'], sourceCidrs: ['10.9.0.0/16'] },
      });
      // The answer shows the policy the group's clients get.
      assert.deepEqual(apollo.group.policy.blockCategories, [
        'malware',
        'phishing',
        'trackers',
        'ads',
        'custom',
      ]);

      const snapshot = await w.app.dns.snapshot();
      assert.deepEqual(snapshot.zones, [
        {
          name: 'corp.example',
          orgId: w.world.acme,
          records: [{ name: 'intranet.corp.example', type: 'A', ttl: 3600, data: '10.1.2.3' }],
        },
      ]);
      const byName = new Map(snapshot.groups.map((g) => [g.name, g]));
      assert.deepEqual(byName.get('Apollo devices'), {
        id: apollo.group.id,
        orgId: w.world.acme,
        projectId: w.world.apollo,
        name: 'Apollo devices',
        sourceCidrs: ['10.8.0.0/16', '2001:db8:8::/48'],
        policy: {
          id: apollo.group.id,
          orgId: w.world.acme,
          // org ∪ project ∪ group, in the catalogue's order
          blockCategories: ['malware', 'phishing', 'trackers', 'ads', 'custom'],
          rules: [
            { action: 'block', pattern: 'ads.example.com' },
            { action: 'allow', pattern: '*.good.example' },
            { action: 'block', pattern: '/^track[0-9]+\\./' },
          ],
          answer: 'sinkhole',
          sinkhole: { ipv4: '192.0.2.53', ipv6: null },
          // the org logs in full, the project asks for less: less it is
          queryLog: 'anonymised',
        },
      });
      assert.deepEqual(byName.get('Office')?.policy, {
        id: office.group.id,
        orgId: w.world.acme,
        blockCategories: ['malware', 'phishing', 'trackers', 'ads'],
        rules: [],
        answer: 'nxdomain',
        sinkhole: { ipv4: null, ipv6: null },
        queryLog: 'full',
      });
      assert.deepEqual(await w.app.dns.defaultPolicy(w.world.acme), {
        id: `org:${w.world.acme}`,
        orgId: w.world.acme,
        blockCategories: ['malware', 'phishing', 'trackers'],
        rules: [],
        answer: 'nxdomain',
        sinkhole: { ipv4: null, ipv6: null },
        queryLog: 'full',
      });

      // A group is replaced whole; the snapshot follows, and the change is in the ledger.
      const updated = await w.ok<{ group: GroupJson }>(
        w.admin,
        `${acme}/groups/${office.group.id}`,
        200,
        { method: 'PUT', body: { name: 'Office', answer: 'null' } },
      );
      assert.deepEqual(updated.group.sourceCidrs, []);
      const again = await w.app.dns.snapshot();
      assert.equal(again.groups.find((g) => g.id === office.group.id)?.policy.answer, 'null');
      const actions = (await w.ledger()).map((e) => e.action);
      assert.ok(actions.includes('dns.group.update'));

      // What a group may not be: each refused with its reason, nothing stored.
      const refusals: [Record<string, unknown>, RegExp][] = [
        [
          { name: 'X', rules: [{ action: 'block', pattern: '/(unclosed/' }] },
          /not a valid \/regular expression\//,
        ],
        [{ name: 'X', rules: [{ action: 'block', pattern: '/(a+)+$/' }] }, /nests quantifiers/],
        [{ name: 'X', rules: [{ action: 'block', pattern: 'not a domain' }] }, /not a domain name/],
        [
          { name: 'X', rules: [{ action: 'block', pattern: `${'a'.repeat(250)}.example` }] },
          /at most 256/,
        ],
        [{ name: 'X', rules: [{ action: 'deny', pattern: 'a.example' }] }, /"block" or "allow"/],
        [{ name: 'X', answer: 'sinkhole' }, /needs a sinkhole address/],
        [{ name: 'X', sinkhole: { ipv4: '2001:db8::1' } }, /expected an IPv4 address/],
        [
          { name: 'X', sourceCidrs: ['10.1.2.3/8'] },
          /has bits set after its prefix; the range is 10\.0\.0\.0\/8/,
        ],
        [{ name: 'X', blockCategories: ['gambling'] }, /expected one of malware, phishing/],
        [{ name: 'Office' }, /named "Office" already/],
      ];
      for (const [input, message] of refusals) {
        const answer = await w.call(w.admin, `${acme}/groups`, { method: 'POST', body: input });
        assert.ok([400, 409].includes(answer.status), `${JSON.stringify(input)}: ${answer.body}`);
        assert.match(errorOf(answer).message ?? '', message, JSON.stringify(input));
      }
      assert.equal((await w.app.dns.snapshot()).groups.length, 2);
    });

    it('the query log: privacy applied again, newest first, paged, filtered, pruned by policy', async (t) => {
      const w = await dnsWorld(t, backend);
      if (!w) return;
      const acme = `/v1/orgs/${w.world.acme}/dns`;
      await setOrgDns(w, w.owner, w.world.acme, { dnsQueryLog: 'full' });
      const project = await policyPut(w, w.owner, `/v1/projects/${w.world.apollo}/policy`, {
        dnsQueryLog: 'anonymised',
        dnsQueryLogRetentionDays: 3,
      });
      assert.equal(project.status, 200, project.body);
      await setOrgDns(w, w.otherAdmin, w.world.initech, { dnsQueryLog: 'off' });
      const full = (
        await w.ok<{ group: GroupJson }>(w.admin, `${acme}/groups`, 201, {
          method: 'POST',
          body: { name: 'Office' },
        })
      ).group;
      const anon = (
        await w.ok<{ group: GroupJson }>(w.admin, `${acme}/groups`, 201, {
          method: 'POST',
          body: { name: 'Apollo', projectId: w.world.apollo },
        })
      ).group;
      const acmeId = w.world.acme;
      const days = (n: number) => minutesAgo(n * 24 * 60);

      const kept = await w.app.dns.recordQueries([
        entry({
          orgId: acmeId,
          groupId: full.id,
          clientId: 'laptop-1',
          name: 'www.example.com',
          at: minutesAgo(3),
        }),
        entry({
          orgId: acmeId,
          groupId: full.id,
          clientId: 'laptop-1',
          name: 'ads.tracker.example',
          outcome: 'blocked',
          category: 'ads',
          rule: 'easylist:tracker.example',
          at: minutesAgo(2),
        }),
        entry({ orgId: acmeId, groupId: full.id, name: 'WWW.Example.com.', at: minutesAgo(1) }),
        // The resolver's snapshot said full; the project now says anonymised: stored anonymised.
        entry({
          orgId: acmeId,
          groupId: anon.id,
          client: '198.51.100.77',
          clientId: 'phone-9',
          name: 'private.example',
          at: minutesAgo(4),
        }),
        entry({
          orgId: acmeId,
          groupId: anon.id,
          client: '2001:db8:1:2::5',
          name: 'v6.example',
          at: minutesAgo(5),
        }),
        // Initech keeps no log at all.
        entry({ orgId: w.world.initech, name: 'secret.initech.example' }),
        // Not an entry.
        entry({ orgId: acmeId, at: 'yesterday' }),
        // Old ones, for retention.
        entry({ orgId: acmeId, groupId: full.id, name: 'old.example', at: days(8) }),
        entry({ orgId: acmeId, groupId: full.id, name: 'recent.example', at: days(5) }),
        entry({ orgId: acmeId, groupId: anon.id, name: 'old-apollo.example', at: days(4) }),
      ]);
      assert.equal(kept, 8);

      const all = await w.ok<LogPage>(w.admin, `${acme}/query-log`, 200);
      assert.deepEqual(
        all.queries.map((q) => q.name),
        [
          'www.example.com',
          'ads.tracker.example',
          'www.example.com',
          'private.example',
          'v6.example',
          'old-apollo.example',
          'recent.example',
          'old.example',
        ],
        'newest first, names in one spelling',
      );
      assert.equal(all.next, null);
      const privateOne = all.queries.find((q) => q.name === 'private.example');
      assert.deepEqual([privateOne?.client, privateOne?.clientId], ['198.51.100.0', null]);
      assert.equal(all.queries.find((q) => q.name === 'v6.example')?.client, '2001:db8:1::');
      const fullOne = all.queries.find((q) => q.name === 'ads.tracker.example');
      assert.deepEqual(
        [fullOne?.client, fullOne?.clientId, fullOne?.rule],
        ['192.0.2.77', 'laptop-1', 'easylist:tracker.example'],
      );

      // Pages of three, following `next`, give the same list.
      const paged: string[] = [];
      let next: string | null = null;
      do {
        const page: LogPage = await w.ok<LogPage>(
          w.admin,
          `${acme}/query-log?limit=3${next ? `&before=${next}` : ''}`,
          200,
        );
        assert.ok(page.queries.length <= 3);
        paged.push(...page.queries.map((q) => q.id));
        next = page.next;
      } while (next !== null);
      assert.deepEqual(
        paged,
        all.queries.map((q) => q.id),
      );

      // The name filter is exact (any spelling of the name), through the blind index.
      const www = await w.ok<LogPage>(w.admin, `${acme}/query-log?name=WWW.EXAMPLE.COM.`, 200);
      assert.deepEqual(
        www.queries.map((q) => q.name),
        ['www.example.com', 'www.example.com'],
      );
      const none = await w.ok<LogPage>(w.admin, `${acme}/query-log?name=example.com`, 200);
      assert.deepEqual(none.queries, []);
      for (const bad of [
        'limit=1001',
        'limit=0',
        'before=bm9wZQ',
        'name=not%20a%20name',
        'other=1',
      ]) {
        const answer = await w.call(w.admin, `${acme}/query-log?${bad}`);
        assert.equal(answer.status, 400, `${bad}: ${answer.body}`);
      }
      // Initech's log stays empty (its policy keeps none), and holds nothing of Acme's.
      const initech = await w.ok<LogPage>(
        w.otherAdmin,
        `/v1/orgs/${w.world.initech}/dns/query-log`,
        200,
      );
      assert.deepEqual(initech.queries, []);

      // What the database holds is ciphertext: names, clients, rules, and zone record data.
      const { zone } = await w.ok<{ zone: ZoneJson }>(w.admin, `${acme}/zones`, 201, {
        method: 'POST',
        body: { name: 'markers.example' },
      });
      await w.ok(w.admin, `${acme}/zones/${zone.id}/records`, 201, {
        method: 'POST',
        body: { name: 'vault.markers.example', type: 'TXT', data: 'MARKER-zone-data-7f3a' },
      });
      const db = w.server.handle.storage().db;
      const rows = JSON.stringify([
        (await sql`select * from dns_query_log`.execute(db)).rows,
        (await sql`select * from dns_records`.execute(db)).rows,
        (await sql`select * from dns_zones`.execute(db)).rows,
        (await sql`select * from dns_client_groups`.execute(db)).rows,
      ]);
      for (const plain of [
        'tracker.example',
        'private.example',
        '192.0.2.77',
        'easylist',
        'MARKER-zone-data-7f3a',
        'vault.markers',
        'markers.example',
      ]) {
        assert.ok(!rows.includes(plain), `"${plain}" is readable in a raw SELECT`);
      }
      const logRows = (
        await sql<{ name_enc: string }>`select name_enc from dns_query_log`.execute(db)
      ).rows;
      assert.ok(
        logRows.every((r) => r.name_enc.startsWith('fe1.')),
        'names are field ciphertext',
      );

      // Retention: Acme keeps 7 days (the default), Apollo's group 3 days.
      const pruned = await w.app.dns.pruneQueryLog(new Date());
      assert.equal(pruned, 2);
      const left = await w.ok<LogPage>(w.admin, `${acme}/query-log`, 200);
      const names = left.queries.map((q) => q.name);
      assert.ok(names.includes('recent.example'), 'inside the org retention');
      assert.ok(!names.includes('old.example'), 'past the org retention');
      assert.ok(!names.includes('old-apollo.example'), 'past the project retention');
      assert.equal(await w.app.dns.pruneQueryLog(new Date()), 0, 'nothing twice');
    });
  });
}
