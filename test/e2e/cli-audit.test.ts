/**
 * `bulwark audit` against a real server process: sign a head, verify the
 * ledger (and remember its head), print an inclusion proof that checks with
 * RFC 9162 alone, export entries with proofs, and notice a rewritten history.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { hashFromHex, leafHash, toHex, verifyInclusion } from '@bulwark/ledger';
import { parseCheckpoint } from '../../packages/cli/src/audit/checkpoint.ts';
import { expectExit, runCli, startServerProcess } from '../support/bulwark-process.ts';
import { tempDir } from '../support/temp.ts';

const passphrase = 'correct horse battery staple';

function hashOf(hex: string): Uint8Array {
  const hash = hashFromHex(hex);
  assert.ok(hash, `${hex} is a 32-byte hex hash`);
  return hash;
}

interface ProofJson {
  seq: number;
  entry: string;
  leafHash: string;
  leafIndex: number;
  treeSize: number;
  auditPath: string[];
  checkpoint: string;
  verifierKey: string;
  verified: boolean;
}

describe('bulwark audit against a real server process', () => {
  it('checkpoint, verify, proof, export, and a rewritten history noticed', async (t) => {
    const desk = tempDir(t);
    const configHome = tempDir(t);
    const server = await startServerProcess(join(tempDir(t), 'data'));
    t.after(() => server.stop());
    const cli = (args: readonly string[], input?: string) =>
      runCli(server, args, {
        cwd: desk,
        env: { XDG_CONFIG_HOME: configHome },
        ...(input !== undefined ? { input } : {}),
      });

    await server.process.waitFor('stderr', /npx bulwark init/, 'the init hint', 5000);
    expectExit(await cli(['init'], `${passphrase}\n${passphrase}\n`), 0, 'init');

    // A signed head, printed as a C2SP checkpoint note.
    const checkpoint = await cli(['audit', 'checkpoint']);
    expectExit(checkpoint, 0, 'audit checkpoint');
    const head = parseCheckpoint(checkpoint.stdout);
    assert.ok(head.size > 0, 'init is recorded in the ledger');
    assert.match(checkpoint.stdout, /\n\n\u2014 \S+ \S+\n/, 'the note carries a signature');

    // The whole ledger verifies, and its head is remembered.
    const verify = await cli(['audit', 'verify']);
    expectExit(verify, 0, 'audit verify');
    assert.match(verify.stdout, /^ledger verified: \d+ entries, \d+ signed heads$/m);
    assert.match(verify.stderr, /remembered the signed head of size \d+/);
    const configDir = join(configHome, 'bulwark');
    const [remembered, ...others] = readdirSync(configDir);
    assert.ok(remembered !== undefined, 'a remembered head');
    assert.match(remembered, /^last-head-/);
    assert.deepEqual(others, []);
    const headFile = join(configDir, remembered);
    assert.equal(statSync(headFile).mode & 0o777, 0o600);

    // A second verify proves the (same or newer) head extends the remembered one.
    const again = await cli(['audit', 'verify', '--json']);
    expectExit(again, 0, 'second audit verify');
    const againJson = JSON.parse(again.stdout) as {
      ledger: { ok: boolean };
      history: { ok: boolean; previous: { size: number } | null };
    };
    assert.equal(againJson.ledger.ok, true);
    assert.equal(againJson.history.ok, true);
    assert.ok(againJson.history.previous, 'the remembered head was checked');

    // The inclusion proof of entry 0, re-checked here with nothing but RFC 9162.
    const proof = await cli(['audit', 'proof', '0', '--json']);
    expectExit(proof, 0, 'audit proof 0');
    assert.match(proof.stderr, /proof verified against the signed head of size \d+/);
    const bundle = JSON.parse(proof.stdout) as ProofJson;
    assert.equal(bundle.verified, true);
    assert.equal(bundle.leafIndex, 0);
    const leaf = leafHash(new TextEncoder().encode(bundle.entry));
    assert.equal(toHex(leaf), bundle.leafHash, 'the entry text hashes to the leaf');
    assert.equal((JSON.parse(bundle.entry) as { seq: number }).seq, 0);
    const signed = parseCheckpoint(bundle.checkpoint);
    assert.equal(signed.size, bundle.treeSize);
    assert.ok(
      verifyInclusion(leaf, 0, bundle.treeSize, bundle.auditPath.map(hashOf), signed.rootHash),
      'the audit path leads to the signed root',
    );
    assert.match(bundle.verifierKey, new RegExp(`^${signed.origin}\\+[0-9a-f]{8}\\+`));
    const text = await cli(['audit', 'proof', '0']);
    expectExit(text, 0, 'audit proof 0 (text)');
    assert.ok(text.stdout.includes(bundle.entry), 'the exact entry text is printed');
    assert.match(text.stdout, /^audit path/m);

    // Beyond the latest signed head: a newer head is needed.
    const beyond = await cli(['audit', 'proof', String(bundle.treeSize + 50)]);
    expectExit(beyond, 1, 'audit proof beyond the head');
    assert.match(beyond.stderr, /newer signed head is needed.*bulwark audit checkpoint/s);

    // Export: JSON Lines, each with a proof against the latest signed head.
    expectExit(await cli(['audit', 'checkpoint']), 0, 'a newer checkpoint');
    const exportFile = join(desk, 'audit.jsonl');
    const exported = await cli(['audit', 'export', '--output', 'audit.jsonl']);
    expectExit(exported, 0, 'audit export');
    assert.equal(statSync(exportFile).mode & 0o777, 0o600);
    const lines = readFileSync(exportFile, 'utf8').trimEnd().split('\n');
    assert.ok(lines.length > 0);
    lines.forEach((line, i) => {
      const row = JSON.parse(line) as {
        seq: number;
        entry: { seq: number; action: string };
        leafHash: string;
        proof: { size: number; path: string[] };
      };
      assert.equal(row.seq, i);
      assert.equal(row.entry.seq, i);
      assert.ok(row.proof.size > row.seq, 'the proof is against a head that covers the entry');
      assert.ok(Array.isArray(row.proof.path));
    });
    const refused = await cli(['audit', 'export', '--output', 'audit.jsonl']);
    expectExit(refused, 1, 'export onto an existing file');
    assert.match(refused.stderr, /exists already/);
    const filtered = await cli(['audit', 'export', '--action', 'audit.read']);
    expectExit(filtered, 0, 'filtered export to stdout');
    for (const line of filtered.stdout.trimEnd().split('\n')) {
      assert.equal((JSON.parse(line) as { entry: { action: string } }).entry.action, 'audit.read');
    }
    // By org: the default org made at init has its own entries.
    const orgCreated = lines
      .map((line) => JSON.parse(line) as { entry: { action: string; org?: string | null } })
      .find((row) => row.entry.action === 'org.create');
    const orgId = orgCreated?.entry.org ?? '';
    assert.match(orgId, /^[0-9a-f-]{36}$/, 'the org entry names its org');
    const byOrg = await cli(['audit', 'export', '--org', orgId]);
    expectExit(byOrg, 0, 'export filtered by org');
    const orgRows = byOrg.stdout
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as { entry: { action: string; org: string } });
    assert.ok(orgRows.some((row) => row.entry.action === 'org.create'));
    assert.ok(orgRows.every((row) => row.entry.org === orgId));

    // The head grew (a newer checkpoint): proven consistent with the remembered one.
    const grown = await cli(['audit', 'verify', '--json']);
    expectExit(grown, 0, 'audit verify after the head grew');
    const grownJson = JSON.parse(grown.stdout) as {
      history: { ok: boolean; size: number; previous: { size: number } | null };
    };
    assert.ok(grownJson.history.previous);
    assert.ok(grownJson.history.size > grownJson.history.previous.size, grown.stdout);

    // A rewritten history: the remembered head, same size, another root.
    const [origin, size] = readFileSync(headFile, 'utf8').split('\n');
    const otherRoot = Buffer.alloc(32, 7).toString('base64');
    writeFileSync(headFile, `${origin}\n${size}\n${otherRoot}\n`);
    const changed = await cli(['audit', 'verify']);
    expectExit(changed, 3, 'audit verify after the history changed');
    assert.match(changed.stderr, /THE LEDGER'S HISTORY CHANGED: /);
    assert.match(readFileSync(headFile, 'utf8'), new RegExp(otherRoot.replace(/\+/g, '\\+')));
  });
});
