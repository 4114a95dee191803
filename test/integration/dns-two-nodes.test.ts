/**
 * Scale-out: two nodes of one installation on one PostgreSQL schema and one
 * NATS. A zone changed through node 1's API is answered by node 2's
 * resolver too — its snapshot is rebuilt on the event, not on a restart.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';
import { dig } from '../support/dig.ts';
import { buildWorld, givePasskey } from '../support/directory-world.ts';
import { startLocalInternet } from '../support/dns-world.ts';
import { natsUrl } from '../support/nats.ts';
import { postgresSchema } from '../support/postgres.ts';
import { startTestServer } from '../support/server.ts';
import { tempDir } from '../support/temp.ts';

const passphrase = 'two dns nodes, one installation';

it('a zone record made on node 1 is answered by node 2 within a second', async (t) => {
  const pg = await postgresSchema(t);
  if (!pg) return;
  const nats = await natsUrl(t);
  if (!nats) return;
  const base = tempDir(t);
  const { pki, authority } = await startLocalInternet(t, base);
  const config = {
    dns: {
      enabled: true,
      udpPort: 0,
      tcpPort: 0,
      dotPort: null,
      rangeOrgs: ['*'],
      upstreams: [{ url: authority.dotUrl, caFile: pki.caFile, serverName: '127.0.0.1' }],
    },
  };
  const env = { BULWARK_NATS_URL: nats };
  mkdirSync(join(base, 'node1'));
  const node1 = await startTestServer(t, {
    dataDir: join(base, 'node1'),
    postgres: pg,
    env,
    config,
  });
  const init = await node1.request('/v1/sys/init', { method: 'POST', body: { passphrase } });
  assert.equal(init.status, 200, init.body);
  cpSync(node1.dataDir, join(base, 'node2'), { recursive: true });
  const node2 = await startTestServer(t, {
    dataDir: join(base, 'node2'),
    postgres: pg,
    env,
    config,
  });
  const unseal = await node2.request('/v1/sys/unseal', { method: 'POST', body: { passphrase } });
  assert.equal(unseal.status, 200, unseal.body);

  const world = await buildWorld(node1);
  await givePasskey(node1, world.people.orgAdmin.id, 'adce0002-35bc-c60a-648b-0b25f1f05503');
  const auth = { authorization: `Bearer ${world.people.orgAdmin.token}` };
  const post = async (path: string, body: unknown) => {
    const answer = await node1.request(path, { method: 'POST', body, headers: auth });
    assert.equal(answer.status, 201, answer.body);
    return JSON.parse(answer.body) as { zone?: { id: string } };
  };
  const org = world.acme;
  await post(`/v1/orgs/${org}/dns/groups`, { name: 'Office', sourceCidrs: ['127.0.0.1/32'] });
  const { zone } = await post(`/v1/orgs/${org}/dns/zones`, { name: 'corp.example' });
  await post(`/v1/orgs/${org}/dns/zones/${zone?.id}/records`, {
    name: 'wiki.corp.example',
    type: 'A',
    ttl: 300,
    data: '10.20.30.40',
  });

  const udp2 = node2.handle.dns()?.ports.udp ?? 0;
  let answers: string[] = [];
  for (const deadline = Date.now() + 1000; Date.now() < deadline; ) {
    answers = (await dig('127.0.0.1', udp2, ['wiki.corp.example'])).answers.map((a) => a.data);
    if (answers.length > 0) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.deepEqual(answers, ['10.20.30.40'], 'node 2 answers the record made on node 1');
});
