import assert from 'node:assert/strict';
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { BulwarkError } from '../errors.ts';
import { RootKey } from '../keys/root-key.ts';
import { checkDatabaseFileShape, openSqlCipher, SQLCIPHER_PAGE_SIZE } from './sqlite.ts';

const INSTALLATION = 'bwk_0123456789abcdefghij';
const MARKER = 'MARKER-7f3e-plaintext-must-not-reach-disk';

let dir: string;
let dbPath: string;
let root: RootKey;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'bulwark-sqlite-'));
  dbPath = join(dir, 'bulwark.db');
  root = RootKey.generate(INSTALLATION);
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function corruptNamingFile(err: unknown): boolean {
  return (
    err instanceof BulwarkError && err.code === 'storage_corrupt' && err.message.includes(dbPath)
  );
}

/** Creates a database with a few pages of data holding the marker, and closes it. */
function createWithMarker(): void {
  const db = openSqlCipher(dbPath, root.derive('database'), { create: true });
  db.exec('CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL)');
  db.exec('CREATE TABLE filler (data TEXT NOT NULL)');
  db.prepare('INSERT INTO notes (body) VALUES (?)').run(MARKER);
  const fill = db.prepare('INSERT INTO filler (data) VALUES (?)');
  for (let i = 0; i < 8; i++) fill.run(`${MARKER}-${i}-${'z'.repeat(1500)}`);
  db.close();
}

function flipByte(offset: number): Buffer {
  const bytes = readFileSync(dbPath);
  assert.ok(offset < bytes.length, `offset ${offset} is inside the ${bytes.length}-byte file`);
  bytes[offset] = (bytes[offset] ?? 0) ^ 0x01;
  writeFileSync(dbPath, bytes);
  return bytes;
}

describe('openSqlCipher', () => {
  it('creates an encrypted file (mode 0600) that reopens with the same key', () => {
    createWithMarker();
    assert.equal(statSync(dbPath).mode & 0o777, 0o600);
    assert.equal(statSync(dbPath).size % SQLCIPHER_PAGE_SIZE, 0);
    const db = openSqlCipher(dbPath, root.derive('database'), { create: false });
    try {
      const row = db.prepare('SELECT body FROM notes').get() as { body: string } | undefined;
      assert.equal(row?.body, MARKER);
      assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
      assert.equal(db.pragma('foreign_keys', { simple: true }), 1);
    } finally {
      db.close();
    }
  });

  it('never writes the plaintext to disk', () => {
    createWithMarker();
    const files = readdirSync(dir);
    assert.ok(files.length > 0);
    for (const name of files) {
      const bytes = readFileSync(join(dir, name));
      assert.ok(!bytes.includes(MARKER), `${name} holds the marker`);
      assert.ok(!bytes.includes('notes'), `${name} holds the schema in clear`);
      assert.ok(!bytes.includes('SQLite format 3'), `${name} has a clear SQLite header`);
    }
  });

  it("refuses another root's key with storage_corrupt and changes nothing", () => {
    createWithMarker();
    const before = readFileSync(dbPath);
    const filesBefore = readdirSync(dir);
    const other = RootKey.generate(INSTALLATION);
    assert.throws(
      () => openSqlCipher(dbPath, other.derive('database'), { create: false }),
      corruptNamingFile,
    );
    assert.deepEqual(readFileSync(dbPath), before);
    assert.deepEqual(readdirSync(dir), filesBefore);
  });

  it('refuses a key for another purpose of the same root', () => {
    createWithMarker();
    assert.throws(
      () => openSqlCipher(dbPath, root.derive('fieldEncryption'), { create: false }),
      corruptNamingFile,
    );
  });

  it('refuses a flipped byte in page 2 on open (quick_check) and overwrites nothing', () => {
    createWithMarker();
    assert.ok(statSync(dbPath).size >= 3 * SQLCIPHER_PAGE_SIZE);
    const tampered = flipByte(SQLCIPHER_PAGE_SIZE + 100);
    assert.throws(
      () => openSqlCipher(dbPath, root.derive('database'), { create: false }),
      corruptNamingFile,
    );
    assert.deepEqual(readFileSync(dbPath), tampered, 'the file is byte-for-byte what it was');
  });

  it('refuses a flipped byte in the last page and in page 1', () => {
    createWithMarker();
    const size = statSync(dbPath).size;
    const last = flipByte(size - SQLCIPHER_PAGE_SIZE + 10);
    assert.throws(
      () => openSqlCipher(dbPath, root.derive('database'), { create: false }),
      corruptNamingFile,
    );
    assert.deepEqual(readFileSync(dbPath), last);

    flipByte(size - SQLCIPHER_PAGE_SIZE + 10); // undo
    const first = flipByte(200);
    assert.throws(
      () => openSqlCipher(dbPath, root.derive('database'), { create: false }),
      corruptNamingFile,
    );
    assert.deepEqual(readFileSync(dbPath), first);
  });

  it('refuses a truncated database on open and leaves it as it was', () => {
    createWithMarker();
    truncateSync(dbPath, statSync(dbPath).size - 1);
    const before = readFileSync(dbPath);
    assert.throws(
      () => openSqlCipher(dbPath, root.derive('database'), { create: false }),
      corruptNamingFile,
    );
    assert.deepEqual(readFileSync(dbPath), before);
  });

  it('refuses create:true over an existing file with already_initialized, untouched', () => {
    createWithMarker();
    const before = readFileSync(dbPath);
    assert.throws(
      () => openSqlCipher(dbPath, root.derive('database'), { create: true }),
      (err) => err instanceof BulwarkError && err.code === 'already_initialized',
    );
    assert.deepEqual(readFileSync(dbPath), before);
    writeFileSync(join(dir, 'empty.db'), '');
    assert.throws(
      () => openSqlCipher(join(dir, 'empty.db'), root.derive('database'), { create: true }),
      (err) => err instanceof BulwarkError && err.code === 'already_initialized',
    );
  });

  it('refuses create:false when the file is missing, and creates nothing', () => {
    assert.throws(
      () => openSqlCipher(dbPath, root.derive('database'), { create: false }),
      corruptNamingFile,
    );
    assert.equal(existsSync(dbPath), false);
    assert.deepEqual(readdirSync(dir), []);
  });
});

describe('checkDatabaseFileShape', () => {
  it('accepts a missing file and a whole number of pages', () => {
    assert.doesNotThrow(() => checkDatabaseFileShape(dbPath));
    writeFileSync(dbPath, Buffer.alloc(2 * SQLCIPHER_PAGE_SIZE));
    assert.doesNotThrow(() => checkDatabaseFileShape(dbPath));
  });

  it('refuses an empty file', () => {
    writeFileSync(dbPath, '');
    assert.throws(() => checkDatabaseFileShape(dbPath), corruptNamingFile);
    assert.equal(statSync(dbPath).size, 0, 'nothing was written');
  });

  it('refuses a size that is not a multiple of the page size', () => {
    for (const size of [
      1,
      SQLCIPHER_PAGE_SIZE - 1,
      SQLCIPHER_PAGE_SIZE + 1,
      3 * SQLCIPHER_PAGE_SIZE - 7,
    ]) {
      writeFileSync(dbPath, Buffer.alloc(size, 0xaa));
      assert.throws(() => checkDatabaseFileShape(dbPath), corruptNamingFile, `${size} bytes`);
      assert.equal(statSync(dbPath).size, size);
    }
  });

  it('refuses a real database cut short', () => {
    createWithMarker();
    truncateSync(dbPath, statSync(dbPath).size - SQLCIPHER_PAGE_SIZE / 2);
    assert.throws(() => checkDatabaseFileShape(dbPath), corruptNamingFile);
  });
});
