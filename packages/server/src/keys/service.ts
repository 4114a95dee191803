import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type {
  InitRequest,
  RekeyRequest,
  RekeyResponse,
  SealState,
  StorageBackend,
  SysStatus,
  UnsealProviderKind,
  UnsealRequest,
} from '@bulwark/protocol';
import { BulwarkError } from '../errors.ts';
import { FailureBackoff } from './backoff.ts';
import type { Keyring, KeyringStore } from './keyring-store.ts';
import { type Argon2idParams, PassphraseProvider } from './providers/passphrase.ts';
import { type DecodedShare, decodeShare, ShamirProvider } from './providers/shamir.ts';
import { RootKey } from './root-key.ts';

/** What the rest of the server opens with the root key and drops on seal. */
export interface SealedResources {
  /** At init: create fresh storage for this installation (refusing existing data) and migrate. */
  initialize(root: RootKey): Promise<void>;
  /** At init, when writing the keyring failed after initialize(): undo what it created. */
  abortInitialize(): Promise<void>;
  /** At unseal: open storage, check it belongs to this installation, migrate. */
  open(root: RootKey): Promise<void>;
  /** At seal or shutdown: close storage and forget every derived key. */
  close(): Promise<void>;
}

export interface SealServiceOptions {
  keyring: KeyringStore;
  resources: SealedResources;
  storage: StorageBackend;
  version: string;
  writeOperatorToken: (token: string) => string;
  argon2id?: Argon2idParams;
  backoff?: FailureBackoff;
  log?: (msg: string, fields?: Record<string, unknown>) => void;
}

export interface InitResult {
  installationId: string;
  shares: string[];
  threshold: number | null;
  operatorTokenFile: string;
}

/**
 * The seal state machine: uninitialised → (init) → unsealed ⇄ sealed.
 * Every transition runs under one lock, so two operators' calls never
 * interleave half-way; the root key lives only here, only while unsealed.
 */
export class SealService {
  readonly #opts: SealServiceOptions;
  readonly #backoff: FailureBackoff;
  #keyring: Keyring | null;
  #root: RootKey | null = null;
  #shares: DecodedShare[] = [];
  #lock: Promise<unknown> = Promise.resolve();

  constructor(opts: SealServiceOptions) {
    this.#opts = opts;
    this.#backoff = opts.backoff ?? new FailureBackoff();
    this.#keyring = opts.keyring.read();
  }

  get state(): SealState {
    if (!this.#keyring) return 'uninitialized';
    return this.#root ? 'unsealed' : 'sealed';
  }

  /** The root key while unsealed; callers derive purpose keys from it and never store it. */
  get rootKey(): RootKey {
    if (!this.#root) throw new BulwarkError('sealed');
    return this.#root;
  }

  status(): SysStatus {
    const keyring = this.#keyring;
    const shamir = keyring?.wrappings.find((w) => w.provider === 'shamir');
    const state = this.state;
    return {
      state,
      initialized: keyring !== null,
      sealed: state !== 'unsealed',
      installationId: keyring?.installationId ?? null,
      providers: (keyring?.wrappings.map((w) => w.provider) ?? []) as UnsealProviderKind[],
      // The threshold is useful unsealed too (rekey asks for that many current shares).
      shares: shamir
        ? {
            given: state === 'sealed' ? this.#shares.length : 0,
            threshold: shamir.threshold,
            total: shamir.total,
          }
        : null,
      storage: this.#opts.storage,
      version: this.#opts.version,
    };
  }

  initialize(req: InitRequest): Promise<InitResult> {
    return this.#exclusive(async () => {
      if (this.#keyring || this.#opts.keyring.exists())
        throw new BulwarkError('already_initialized');
      const installationId = `bwk_${randomBytes(10).toString('hex')}`;
      const root = RootKey.generate(installationId);
      try {
        const { wrappings, shares } = await this.#wrap(root, req);
        const operatorToken = randomBytes(32).toString('base64url');
        const keyring: Keyring = {
          format: 'bulwark-keyring',
          version: 1,
          installationId,
          createdAt: new Date().toISOString(),
          operatorTokenSha256: sha256Hex(operatorToken),
          wrappings,
        };
        // Storage and operator token first, keyring last: the keyring's
        // existence is the commit point of init, so a failure before it leaves
        // the directory re-initialisable and no share is handed out for an
        // installation that does not exist.
        await this.#opts.resources.initialize(root);
        let operatorTokenFile: string;
        try {
          operatorTokenFile = this.#opts.writeOperatorToken(operatorToken);
          this.#opts.keyring.create(keyring);
        } catch (err) {
          await this.#opts.resources.abortInitialize();
          throw err;
        }
        this.#keyring = keyring;
        this.#root = root;
        this.#opts.log?.('initialised', {
          installationId,
          providers: wrappings.map((w) => w.provider),
        });
        return {
          installationId,
          shares,
          threshold: req.shares?.threshold ?? null,
          operatorTokenFile,
        };
      } catch (err) {
        if (this.#root !== root) root.wipe();
        throw err;
      }
    });
  }

  /**
   * One unseal step. A passphrase unseals at once; shares accumulate until the
   * threshold. `source` (the caller's address) keys the failure back-off.
   */
  unseal(req: UnsealRequest, source: string): Promise<SysStatus> {
    return this.#exclusive(async () => {
      const keyring = this.#keyring;
      if (!keyring) throw new BulwarkError('not_initialized');
      if ('reset' in req) {
        this.#shares = [];
        return this.status();
      }
      if (this.#root) throw new BulwarkError('already_unsealed');
      const wait = this.#backoff.waitFor(source);
      if (wait > 0) {
        throw new BulwarkError(
          'rate_limited',
          `Too many failed unseal attempts from this address; try again in ${Math.ceil(wait / 1000)} s.`,
        );
      }
      let root: RootKey;
      if ('passphrase' in req) {
        const record = keyring.wrappings.find((w) => w.provider === 'passphrase');
        if (!record) {
          throw new BulwarkError(
            'provider_not_configured',
            'This installation has no passphrase; give shares.',
          );
        }
        try {
          root = await new PassphraseProvider(null).unwrap(
            record,
            req.passphrase,
            keyring.installationId,
          );
        } catch (err) {
          this.#backoff.recordFailure(source);
          throw err;
        }
      } else {
        const record = keyring.wrappings.find((w) => w.provider === 'shamir');
        if (!record) {
          throw new BulwarkError(
            'provider_not_configured',
            'This installation has no shares; give the passphrase.',
          );
        }
        let share: DecodedShare;
        try {
          share = decodeShare(req.share, keyring.installationId);
        } catch (err) {
          this.#backoff.recordFailure(source);
          throw err;
        }
        if (this.#shares.some((s) => s.x === share.x)) throw new BulwarkError('duplicate_share');
        this.#shares.push(share);
        if (this.#shares.length < record.threshold) return this.status();
        const given = this.#shares;
        this.#shares = [];
        try {
          root = await new ShamirProvider(record.total, record.threshold).unwrap(
            record,
            given.map((s) => s.bytes),
            keyring.installationId,
          );
        } catch (err) {
          this.#backoff.recordFailure(source);
          throw err;
        } finally {
          for (const s of given) s.bytes.fill(0);
        }
      }
      try {
        await this.#opts.resources.open(root);
      } catch (err) {
        root.wipe();
        await this.#opts.resources.close().catch(() => {});
        throw err;
      }
      this.#root = root;
      this.#backoff.forget(source);
      this.#opts.log?.('unsealed', { installationId: keyring.installationId });
      return this.status();
    });
  }

  /**
   * Key rotation: re-wraps the same root key under new material and replaces
   * every old wrapping, so old shares and the old passphrase stop working.
   * The caller must prove possession of the current material — the operator
   * token alone (a file on disk) must not be enough to take over the seal.
   */
  rekey(req: RekeyRequest, source: string): Promise<RekeyResponse> {
    return this.#exclusive(async () => {
      const keyring = this.#keyring;
      if (!keyring) throw new BulwarkError('not_initialized');
      const root = this.#root;
      if (!root) throw new BulwarkError('sealed');
      const wait = this.#backoff.waitFor(source);
      if (wait > 0) {
        throw new BulwarkError(
          'rate_limited',
          `Too many failed attempts from this address; try again in ${Math.ceil(wait / 1000)} s.`,
        );
      }
      let proven: RootKey;
      try {
        proven = await this.#unwrapCurrent(keyring, req.current);
      } catch (err) {
        this.#backoff.recordFailure(source);
        throw err;
      }
      const same = timingSafeEqual(proven.exposeForWrapping(), root.exposeForWrapping());
      proven.wipe();
      if (!same) throw new BulwarkError('unseal_failed');
      this.#backoff.forget(source);

      const { wrappings, shares } = await this.#wrap(root, req.next);
      const next: Keyring = { ...keyring, rotatedAt: new Date().toISOString(), wrappings };
      this.#opts.keyring.replace(next);
      this.#keyring = next;
      this.#opts.log?.('rekeyed', {
        installationId: keyring.installationId,
        providers: wrappings.map((w) => w.provider),
      });
      return {
        installationId: keyring.installationId,
        shares,
        threshold: req.next.shares?.threshold ?? null,
        providers: wrappings.map((w) => w.provider),
      };
    });
  }

  seal(): Promise<SysStatus> {
    return this.#exclusive(async () => {
      if (!this.#keyring) throw new BulwarkError('not_initialized');
      this.#shares = [];
      const root = this.#root;
      if (root) {
        // The key goes whatever happens to storage on the way down.
        this.#root = null;
        try {
          await this.#opts.resources.close();
        } finally {
          root.wipe();
        }
        this.#opts.log?.('sealed', { installationId: this.#keyring.installationId });
      }
      return this.status();
    });
  }

  /** Constant-time check of the operator token written at init. */
  isOperatorToken(token: string): boolean {
    if (!this.#keyring) return false;
    const given = Buffer.from(sha256Hex(token), 'hex');
    const expected = Buffer.from(this.#keyring.operatorTokenSha256, 'hex');
    return timingSafeEqual(given, expected);
  }

  async #wrap(root: RootKey, req: InitRequest) {
    const wrappings: Keyring['wrappings'] = [];
    let shares: string[] = [];
    if (req.passphrase !== undefined) {
      const provider = new PassphraseProvider(req.passphrase, this.#opts.argon2id);
      wrappings.push((await provider.wrap(root)).record);
    }
    if (req.shares) {
      const provider = new ShamirProvider(req.shares.count, req.shares.threshold);
      const wrapped = await provider.wrap(root);
      wrappings.push(wrapped.record);
      shares = wrapped.output;
    }
    if (wrappings.length === 0) {
      throw new BulwarkError('bad_request', 'Give a passphrase, shares, or both.');
    }
    return { wrappings, shares };
  }

  /** Unwraps with the current material, all at once (rekey), without touching unseal progress. */
  async #unwrapCurrent(keyring: Keyring, current: RekeyRequest['current']): Promise<RootKey> {
    if ('passphrase' in current) {
      const record = keyring.wrappings.find((w) => w.provider === 'passphrase');
      if (!record)
        throw new BulwarkError(
          'provider_not_configured',
          'This installation has no passphrase; give shares.',
        );
      return new PassphraseProvider(null).unwrap(
        record,
        current.passphrase,
        keyring.installationId,
      );
    }
    const record = keyring.wrappings.find((w) => w.provider === 'shamir');
    if (!record)
      throw new BulwarkError(
        'provider_not_configured',
        'This installation has no shares; give the passphrase.',
      );
    const decoded = current.shares.map((text) => decodeShare(text, keyring.installationId));
    if (new Set(decoded.map((d) => d.x)).size !== decoded.length)
      throw new BulwarkError('duplicate_share');
    if (decoded.length < record.threshold) {
      throw new BulwarkError(
        'bad_request',
        `${record.threshold} current shares are needed; ${decoded.length} given.`,
      );
    }
    try {
      return await new ShamirProvider(record.total, record.threshold).unwrap(
        record,
        decoded.map((d) => d.bytes),
        keyring.installationId,
      );
    } finally {
      for (const d of decoded) d.bytes.fill(0);
    }
  }

  #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#lock.then(fn, fn);
    this.#lock = run.catch(() => {});
    return run;
  }
}

function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}
