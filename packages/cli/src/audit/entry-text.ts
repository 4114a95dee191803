import { canonicalJsonString, leafHash, toHex } from '@bulwark/ledger';

/**
 * The bytes the ledger hashed for an entry: its RFC 8785 canonical JSON
 * (the server stores exactly that text, so re-serialising the parsed object
 * gives it back). Returns the text only when SHA-256(0x00 ‖ text) is the leaf
 * hash the server reported; null when it is not.
 */
export function canonicalEntryText(entry: unknown, expectedLeafHash: string): string | null {
  let text: string;
  try {
    text = canonicalJsonString(entry);
  } catch {
    return null;
  }
  return toHex(leafHash(new TextEncoder().encode(text))) === expectedLeafHash.toLowerCase()
    ? text
    : null;
}
