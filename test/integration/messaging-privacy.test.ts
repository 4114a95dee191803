import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import { sql } from 'kysely';
import { buildWorld } from '../support/directory-world.ts';
import { allJoined, startDevice } from '../support/messaging.ts';
import { postgresSchema } from '../support/postgres.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { tempDir } from '../support/temp.ts';

/** The marker, and its base64url spellings at every alignment (stored encodings would show them). */
function spellings(marker: string): string[] {
  const bytes = Buffer.from(marker, 'utf8');
  const found = [marker];
  for (let shift = 0; shift < 3; shift++) {
    const encoded = Buffer.concat([Buffer.alloc(shift), bytes]).toString('base64url');
    // Drop the characters the padding bytes and the tail influence.
    found.push(encoded.slice(Math.ceil((shift * 4) / 3) + 1, -2));
  }
  return found;
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

/** Every row of every table, as text: what anyone holding the database (and its key) reads. */
async function databaseText(server: TestServer): Promise<string> {
  const storage = server.handle.storage();
  const tables =
    storage.backend === 'postgres'
      ? (
          await sql<{ name: string }>`select table_name as name from information_schema.tables
             where table_schema = current_schema()`.execute(storage.db)
        ).rows
      : (
          await sql<{ name: string }>`select name from sqlite_master where type = 'table'`.execute(
            storage.db,
          )
        ).rows;
  const parts: string[] = [];
  for (const { name } of tables) {
    const rows = await sql`select * from ${sql.table(name)}`.execute(storage.db);
    parts.push(JSON.stringify(rows.rows));
  }
  return parts.join('\n');
}

async function plantAndSearch(server: TestServer, log: string[]) {
  const world = await buildWorld(server);
  const marker = `PLANTED-${randomBytes(8).toString('hex')}`;
  const alice = await startDevice(t0, server, world.people.orgOwner.id, 'alice');
  const bob = await startDevice(t0, server, world.people.externalMember.id, 'bob');
  const channel = await alice.client.createChannel(world.apollo, 'privacy');
  await alice.client.sync(channel.id);
  await allJoined([alice, bob], channel.id);
  await alice.client.send(channel.id, `the plan is ${marker} (text)`);
  const attachment = Buffer.from(`attachment body ${marker} `.repeat(50));
  const sent = await alice.client.sendAttachment(channel.id, attachment, {
    name: `${marker}.txt`,
    mediaType: 'text/plain',
    text: `caption ${marker}`,
  });
  await bob.client.waitUntil(
    () => bob.texts(channel.id).some((m) => m.includes(marker)),
    20_000,
    'bob reads the text',
  );
  await bob.client.waitUntil(
    () =>
      bob.events.some(
        (e) => e.type === 'message' && e.content.body.kind === 'attachment' && !e.own,
      ),
    20_000,
    'bob receives the attachment',
  );
  // Bob really can open it: the marker is there for the members ...
  const opened = await bob.client.fetchAttachment(channel.id, sent.attachment);
  assert.ok(Buffer.from(opened).toString('utf8').includes(marker));
  // ... and nowhere the server keeps anything.
  const db = await databaseText(server);
  for (const s of spellings(marker)) {
    assert.ok(!db.includes(s), `the database holds "${s}"`);
    assert.ok(!log.join('').includes(s), `the server log holds "${s}"`);
  }
  for (const file of filesUnder(server.dataDir)) {
    const bytes = readFileSync(file);
    for (const s of spellings(marker)) {
      assert.ok(!bytes.includes(s), `${file} holds "${s}"`);
    }
  }
  // The search itself can find things: the channel's name is stored (encrypted) by design,
  // and the log did record the requests.
  assert.ok(log.join('').includes('/v1/conversations/'), 'the log recorded the requests');
  assert.ok(db.includes(channel.id), 'the dump holds the conversation rows');
}

let t0: Parameters<typeof startTestServer>[0];

describe('the server never sees plaintext', () => {
  it('markers in messages and attachments appear nowhere on the server (SQLCipher)', async (t) => {
    t0 = t;
    const log: string[] = [];
    const stream = new PassThrough();
    stream.on('data', (chunk: Buffer) => log.push(chunk.toString('utf8')));
    const server = await startTestServer(t, { dataDir: tempDir(t), logStream: stream });
    const init = await server.request('/v1/sys/init', {
      method: 'POST',
      body: { passphrase: 'privacy test passphrase' },
    });
    assert.equal(init.status, 200);
    await plantAndSearch(server, log);
  });

  it('and nowhere in PostgreSQL either', async (t) => {
    t0 = t;
    const postgres = await postgresSchema(t);
    if (!postgres) return;
    const log: string[] = [];
    const stream = new PassThrough();
    stream.on('data', (chunk: Buffer) => log.push(chunk.toString('utf8')));
    const server = await startTestServer(t, { dataDir: tempDir(t), postgres, logStream: stream });
    const init = await server.request('/v1/sys/init', {
      method: 'POST',
      body: { passphrase: 'privacy test passphrase' },
    });
    assert.equal(init.status, 200);
    await plantAndSearch(server, log);
  });
});
