/** WebCrypto digests. Kept apart from `hazardous/` because no key is involved. */

// Typed from the global rather than the DOM lib, which this repo does not load.
type Subtle = typeof globalThis.crypto.subtle;

function subtle(): Subtle {
  const s = globalThis.crypto?.subtle;
  if (s === undefined) throw new Error('WebCrypto (globalThis.crypto.subtle) is not available');
  return s;
}

// WebCrypto wants an ArrayBuffer-backed view; copying also makes the call
// independent of later mutation of the caller's buffer.
function own(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return new Uint8Array(bytes);
}

export async function sha256(bytes: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await subtle().digest('SHA-256', own(bytes)));
}

export async function sha512(bytes: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await subtle().digest('SHA-512', own(bytes)));
}

export { subtle as webCrypto };
