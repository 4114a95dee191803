import { z } from 'zod';

/** Seal lifecycle of one server process. */
export const sealStateSchema = z.enum(['uninitialized', 'sealed', 'unsealed']);
export type SealState = z.infer<typeof sealStateSchema>;

export const healthResponseSchema = z.object({ status: sealStateSchema });
export type HealthResponse = z.infer<typeof healthResponseSchema>;

export const storageBackendSchema = z.enum(['sqlite', 'postgres']);
export type StorageBackend = z.infer<typeof storageBackendSchema>;

export const unsealProviderKindSchema = z.enum(['passphrase', 'shamir']);
export type UnsealProviderKind = z.infer<typeof unsealProviderKindSchema>;

export const sysStatusSchema = z.object({
  state: sealStateSchema,
  initialized: z.boolean(),
  sealed: z.boolean(),
  installationId: z.string().nullable(),
  providers: z.array(unsealProviderKindSchema),
  shares: z
    .object({ given: z.number().int(), threshold: z.number().int(), total: z.number().int() })
    .nullable(),
  storage: storageBackendSchema,
  version: z.string(),
});
export type SysStatus = z.infer<typeof sysStatusSchema>;

/** Bounds: a passphrase long enough to resist guessing, short enough not to be a DoS vector. */
export const passphraseSchema = z
  .string()
  .min(12, 'the passphrase must be at least 12 characters')
  .max(1024, 'the passphrase must be at most 1024 characters');

export const initRequestSchema = z
  .object({
    passphrase: passphraseSchema.optional(),
    shares: z
      .object({
        count: z.number().int().min(2, 'at least 2 shares').max(255),
        threshold: z.number().int().min(2, 'a threshold of at least 2').max(255),
      })
      .refine((s) => s.threshold <= s.count, 'threshold must not exceed the number of shares')
      .optional(),
  })
  .strict()
  .refine((r) => r.passphrase !== undefined || r.shares !== undefined, {
    message: 'give a passphrase, shares, or both',
  });
export type InitRequest = z.infer<typeof initRequestSchema>;

export const initResponseSchema = z.object({
  installationId: z.string(),
  /** Printed once by the CLI; the server never keeps them. */
  shares: z.array(z.string()),
  threshold: z.number().int().nullable(),
  /** Where the server wrote the operator token (used by `bulwark seal`). */
  operatorTokenFile: z.string(),
  /** One-time link to register the first admin's passkey (the fragment holds the secret). */
  setupUrl: z.string().optional(),
  /** When the setup link dies. */
  expiresAt: z.string().optional(),
  status: sysStatusSchema,
});
export type InitResponse = z.infer<typeof initResponseSchema>;

export const unsealRequestSchema = z.union(
  [
    z.object({ passphrase: z.string().min(1).max(1024) }).strict(),
    z.object({ share: z.string().min(1).max(2048) }).strict(),
    z.object({ reset: z.literal(true) }).strict(),
  ],
  { error: 'expected exactly one of: {"passphrase": …}, {"share": …} or {"reset": true}' },
);
export type UnsealRequest = z.infer<typeof unsealRequestSchema>;

/**
 * Re-wraps the root key under new unseal material (rotation): proves
 * possession of the current material, replaces every wrapping, returns the
 * new shares once. The data and the root key itself do not change.
 */
export const rekeyRequestSchema = z
  .object({
    current: z.union(
      [
        z.object({ passphrase: z.string().min(1).max(1024) }).strict(),
        z.object({ shares: z.array(z.string().min(1).max(2048)).min(1).max(255) }).strict(),
      ],
      { error: 'current: expected {"passphrase": …} or {"shares": [...]}' },
    ),
    next: initRequestSchema,
  })
  .strict();
export type RekeyRequest = z.infer<typeof rekeyRequestSchema>;

export const rekeyResponseSchema = z.object({
  installationId: z.string(),
  shares: z.array(z.string()),
  threshold: z.number().int().nullable(),
  providers: z.array(unsealProviderKindSchema),
});
export type RekeyResponse = z.infer<typeof rekeyResponseSchema>;
