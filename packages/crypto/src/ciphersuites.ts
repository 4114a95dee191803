/**
 * The two MLS ciphersuites Bulwark speaks (SECURITY.md, "End-to-end
 * encryption"). Both sign with Ed25519, so one device identity key serves
 * both. The X-Wing suite needs the optional `@hpke/hybridkem-x-wing` peer of
 * ts-mls, which this package pins as a dependency.
 */
import {
  type CiphersuiteImpl,
  getCiphersuiteFromName,
  getCiphersuiteImpl,
  type CiphersuiteName as MlsCiphersuiteName,
} from 'ts-mls';

export const supportedCiphersuites = [
  'MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519',
  'MLS_256_XWING_AES256GCM_SHA512_Ed25519',
] as const;

export type CiphersuiteName = (typeof supportedCiphersuites)[number];

/** The default for new groups; the X-Wing suite is selectable per org. */
export const defaultCiphersuite: CiphersuiteName = 'MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519';

export function isSupportedCiphersuite(name: unknown): name is CiphersuiteName {
  return typeof name === 'string' && (supportedCiphersuites as readonly string[]).includes(name);
}

export function asCiphersuite(name: string): CiphersuiteName {
  if (!isSupportedCiphersuite(name)) {
    throw new TypeError(
      `unsupported ciphersuite ${JSON.stringify(name)}; expected one of ${supportedCiphersuites.join(', ')}`,
    );
  }
  return name;
}

// Building an impl imports HPKE modules and probes WebCrypto; do it once per
// suite. Caching the promise (not the value) also dedupes concurrent callers.
// The cache holds only stateless algorithm objects, never keys.
const impls = new Map<CiphersuiteName, Promise<CiphersuiteImpl>>();

export function ciphersuiteImpl(name: CiphersuiteName): Promise<CiphersuiteImpl> {
  const suite = asCiphersuite(name);
  let impl = impls.get(suite);
  if (impl === undefined) {
    impl = getCiphersuiteImpl(getCiphersuiteFromName(suite as MlsCiphersuiteName));
    // A failed load (e.g. missing peer dependency) must not be cached forever.
    impl.catch(() => impls.delete(suite));
    impls.set(suite, impl);
  }
  return impl;
}
