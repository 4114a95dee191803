import { z } from 'zod';

/**
 * Authentication API: passkey setup, login, step-up and management. The
 * WebAuthn JSON shapes follow the W3C `*JSON` types (what
 * `PublicKeyCredential.toJSON()` returns); every string is bounded.
 */

const b64url = (max: number) =>
  z
    .string()
    .max(max)
    .regex(/^[A-Za-z0-9_-]*$/, 'expected base64url');

/** Challenge handles and one-time link tokens: 32 random bytes, base64url. */
export const opaqueIdSchema = z
  .string()
  .min(16)
  .max(200)
  .regex(/^[A-Za-z0-9_-]+$/, 'expected an opaque id');

const transportSchema = z.enum(['ble', 'cable', 'hybrid', 'internal', 'nfc', 'smart-card', 'usb']);

const clientExtensionResultsSchema = z.record(z.string().max(64), z.unknown());

export const registrationResponseSchema = z.object({
  id: b64url(1024).min(1),
  rawId: b64url(1024).min(1),
  type: z.literal('public-key'),
  response: z.object({
    clientDataJSON: b64url(8192).min(1),
    attestationObject: b64url(32768).min(1),
    authenticatorData: b64url(16384).optional(),
    transports: z.array(transportSchema).max(8).optional(),
    publicKeyAlgorithm: z.number().int().optional(),
    publicKey: b64url(8192).optional(),
  }),
  authenticatorAttachment: z.enum(['platform', 'cross-platform']).optional(),
  clientExtensionResults: clientExtensionResultsSchema.default({}),
});
export type RegistrationResponse = z.infer<typeof registrationResponseSchema>;

export const authenticationResponseSchema = z.object({
  id: b64url(1024).min(1),
  rawId: b64url(1024).min(1),
  type: z.literal('public-key'),
  response: z.object({
    clientDataJSON: b64url(8192).min(1),
    authenticatorData: b64url(16384).min(1),
    // ML-DSA (post-quantum) signatures are up to ~4.6 kB.
    signature: b64url(8192).min(1),
    userHandle: b64url(256).optional(),
  }),
  authenticatorAttachment: z.enum(['platform', 'cross-platform']).optional(),
  clientExtensionResults: clientExtensionResultsSchema.default({}),
});
export type AuthenticationResponse = z.infer<typeof authenticationResponseSchema>;

export const displayNameSchema = z.string().trim().min(1, 'a name is required').max(100);
export const usernameSchema = z
  .string()
  .trim()
  .min(2, 'at least 2 characters')
  .max(64, 'at most 64 characters')
  .regex(/^[\p{L}\p{N}._-]+$/u, 'letters, digits, dot, dash and underscore only');
export const passkeyNameSchema = z.string().trim().min(1, 'a name is required').max(64);

/** Options for `navigator.credentials.create/get`, in their JSON form. */
export const webauthnOptionsResponseSchema = z.object({
  challengeId: opaqueIdSchema,
  options: z.record(z.string(), z.unknown()),
});
export type WebauthnOptionsResponse = z.infer<typeof webauthnOptionsResponseSchema>;

export const userSummarySchema = z.object({
  id: z.string(),
  displayName: z.string(),
  username: z.string().nullable(),
  email: z.string().nullable(),
  isAdmin: z.boolean(),
});
export type UserSummary = z.infer<typeof userSummarySchema>;

export const meResponseSchema = z.object({
  user: userSummarySchema,
  methods: z.array(z.string()),
  stepUpAt: z.string().nullable(),
});
export type MeResponse = z.infer<typeof meResponseSchema>;

export const passkeySummarySchema = z.object({
  id: z.string(),
  name: z.string(),
  createdAt: z.string(),
  lastUsedAt: z.string().nullable(),
  aaguid: z.string(),
  backedUp: z.boolean(),
  deviceType: z.enum(['singleDevice', 'multiDevice']),
});
export type PasskeySummary = z.infer<typeof passkeySummarySchema>;

export const passkeyListResponseSchema = z.object({ passkeys: z.array(passkeySummarySchema) });
export type PasskeyListResponse = z.infer<typeof passkeyListResponseSchema>;

export const setupLinkResponseSchema = z.object({
  /** `https://<host>/setup#<token>`: the token is in the fragment, so it never reaches a log or a Referer. */
  setupUrl: z.string(),
  expiresAt: z.string(),
});
export type SetupLinkResponse = z.infer<typeof setupLinkResponseSchema>;

export const setupOptionsRequestSchema = z
  .object({ token: opaqueIdSchema, displayName: displayNameSchema, username: usernameSchema })
  .strict();
export type SetupOptionsRequest = z.infer<typeof setupOptionsRequestSchema>;

export const setupVerifyRequestSchema = z
  .object({
    token: opaqueIdSchema,
    challengeId: opaqueIdSchema,
    response: registrationResponseSchema,
    name: passkeyNameSchema.optional(),
  })
  .strict();
export type SetupVerifyRequest = z.infer<typeof setupVerifyRequestSchema>;

/** An invited user's enrolment: the link's token only (the user is already named by it). */
export const enrolOptionsRequestSchema = z.object({ token: opaqueIdSchema }).strict();
export const enrolVerifyRequestSchema = z
  .object({
    token: opaqueIdSchema,
    challengeId: opaqueIdSchema,
    response: registrationResponseSchema,
    name: passkeyNameSchema.optional(),
  })
  .strict();

export const userResponseSchema = z.object({ user: userSummarySchema });
export type UserResponse = z.infer<typeof userResponseSchema>;

/** An empty JSON object (options requests carry nothing). */
export const emptyRequestSchema = z.object({}).strict();

export const loginVerifyRequestSchema = z
  .object({
    challengeId: opaqueIdSchema,
    response: authenticationResponseSchema,
    /** `cookie` (browsers, default) or `bearer` (CLI and API clients get the token in the answer). */
    session: z.enum(['cookie', 'bearer']).default('cookie'),
  })
  .strict();
export type LoginVerifyRequest = z.infer<typeof loginVerifyRequestSchema>;

export const loginVerifyResponseSchema = z.object({
  user: userSummarySchema,
  token: z.string().optional(),
});
export type LoginVerifyResponse = z.infer<typeof loginVerifyResponseSchema>;

export const passkeyRegisterVerifyRequestSchema = z
  .object({
    challengeId: opaqueIdSchema,
    response: registrationResponseSchema,
    name: passkeyNameSchema.optional(),
  })
  .strict();
export type PasskeyRegisterVerifyRequest = z.infer<typeof passkeyRegisterVerifyRequestSchema>;

export const passkeyResponseSchema = z.object({ passkey: passkeySummarySchema });
export type PasskeyResponse = z.infer<typeof passkeyResponseSchema>;

export const passkeyRenameRequestSchema = z.object({ name: passkeyNameSchema }).strict();
export type PasskeyRenameRequest = z.infer<typeof passkeyRenameRequestSchema>;

export const stepUpVerifyRequestSchema = z
  .object({ challengeId: opaqueIdSchema, response: authenticationResponseSchema })
  .strict();
export type StepUpVerifyRequest = z.infer<typeof stepUpVerifyRequestSchema>;

export const stepUpVerifyResponseSchema = z.object({ stepUpAt: z.string() });
export type StepUpVerifyResponse = z.infer<typeof stepUpVerifyResponseSchema>;
