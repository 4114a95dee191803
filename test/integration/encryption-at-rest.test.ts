/**
 * Disk, backup or dump theft yields nothing: plant marker strings through the
 * real stores, stop the server, and scan every byte that was written.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { UserStore } from '../../packages/server/src/identity/user-store.ts';
import { SettingsStore } from '../../packages/server/src/settings/settings-store.ts';
import { postgresSchema } from '../support/postgres.ts';
import { startTestServer } from '../support/server.ts';
import { tempDir } from '../support/temp.ts';

const passphrase = 'marker-passphrase-Quokka-7781';
const markers = {
  name: 'Zebulon Marker-Quillfeather',
  email: 'zebulon.marker@quillfeather-example.org',
  text: 'The launch codes are in the MARKERTEXT-7f3a9 drawer',
};

function allFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? allFiles(join(dir, e.name)) : [join(dir, e.name)],
  );
}

/** Every encoding a careless store might leave a marker in. */
function needles(text: string): Buffer[] {
  return [
    Buffer.from(text, 'utf8'),
    Buffer.from(text, 'utf16le'),
    Buffer.from(text.toLowerCase(), 'utf8'),
    Buffer.from(Buffer.from(text, 'utf8').toString('base64').slice(0, 16), 'utf8'),
    Buffer.from(Buffer.from(text, 'utf8').toString('hex'), 'utf8'),
  ];
}

function assertNoMarkers(label: string, bytes: Buffer, secrets: string[]) {
  for (const secret of secrets) {
    for (const needle of needles(secret)) {
      assert.equal(
        bytes.includes(needle),
        false,
        `${label} contains "${secret}" (as ${needle.toString().slice(0, 20)}…)`,
      );
    }
  }
}

async function plantMarkers(server: Awaited<ReturnType<typeof startTestServer>>) {
  const init = await server.request('/v1/sys/init', {
    method: 'POST',
    body: { passphrase, shares: { count: 3, threshold: 2 } },
  });
  assert.equal(init.status, 200, init.body);
  const storage = server.handle.storage();
  const users = new UserStore(storage);
  const user = await users.create({ displayName: markers.name, email: markers.email });
  await new SettingsStore(storage).set('welcome_message', markers.text);
  // Read back through the stores: the data is really there, just not readable on disk.
  assert.equal((await users.findByEmail(markers.email.toUpperCase()))?.id, user.id);
  return (init.json as { shares: string[] }).shares;
}

describe('encryption at rest', () => {
  it('embedded SQLCipher: no marker, passphrase or share appears anywhere in the data directory', async (t) => {
    const dataDir = tempDir(t);
    const server = await startTestServer(t, { dataDir });
    const shares = await plantMarkers(server);
    // Write enough to force pages and WAL frames out to disk, then stop.
    await server.close();

    const files = allFiles(dataDir);
    assert.ok(
      files.some((f) => f.endsWith('bulwark.db')),
      'the database file exists',
    );
    let scanned = 0;
    for (const file of files) {
      const bytes = readFileSync(file);
      scanned += bytes.length;
      assertNoMarkers(file, bytes, [
        ...Object.values(markers),
        passphrase,
        ...shares.map((s) => s.split('.')[2] ?? s),
      ]);
    }
    assert.ok(scanned > 8192, `scanned ${scanned} bytes`);
    const db = readFileSync(join(dataDir, 'bulwark.db'));
    assert.notEqual(
      db.subarray(0, 15).toString('latin1'),
      'SQLite format 3',
      'the file header is encrypted too',
    );
    assert.equal(
      statSync(join(dataDir, 'bulwark.db')).mode & 0o077,
      0,
      'database file is private to its owner',
    );
  });

  it('PostgreSQL: a pg_dump shows ids, timestamps and ciphertext only', async (t) => {
    const pg = await postgresSchema(t);
    if (!pg) return;
    const dataDir = tempDir(t);
    const server = await startTestServer(t, { dataDir, postgres: pg });
    const shares = await plantMarkers(server);
    await server.close();

    const dump = execFileSync('pg_dump', ['--no-owner', `--schema=${pg.schema}`, pg.url], {
      maxBuffer: 64 * 1024 * 1024,
    });
    assert.match(dump.toString('utf8'), /CREATE TABLE .*users/, 'the dump holds the users table');
    assert.match(dump.toString('utf8'), /fe1\./, 'the dump holds field ciphertext');
    assertNoMarkers('pg_dump', dump, [...Object.values(markers), passphrase]);
    for (const file of allFiles(dataDir)) {
      assertNoMarkers(file, readFileSync(file), [...Object.values(markers), passphrase, ...shares]);
    }
  });
});
