/**
 * INTERFACE STUB — the admin/audit helper replaces the bodies (keep the exports).
 * Audit proofs checked in the browser: leaf hashes recomputed from the
 * entries' canonical JSON, RFC 9162 inclusion proofs against a signed
 * checkpoint, the checkpoint's Ed25519 signature against the ledger key
 * pinned on this device, and consistency with the last head seen here.
 */
export interface ProvedEntry {
  seq: number;
  entry: unknown;
  leafHash: string;
  proof: { size: number; path: string[] };
}

export type VerifyReport =
  | { ok: true; treeSize: number; checked: number }
  | { ok: false; problem: string; seq?: number };

export async function verifyEntriesAgainstCheckpoint(
  _entries: ProvedEntry[],
  _checkpointText: string,
): Promise<VerifyReport> {
  return { ok: false, problem: 'not implemented' };
}
