import { createPublicKey, verify } from 'node:crypto';
import {
  bindDeviceBodySchema,
  deviceBindLabel,
  deviceVerifyLabel,
  mlsCiphersuites,
  registerDeviceBodySchema,
  uploadKeyPackagesBodySchema,
  verifyDeviceBodySchema,
} from '@bulwark/protocol';
import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import { MemberStore } from '../../directory/projects.ts';
import { authzOf, uuid } from '../../directory/routes/shared.ts';
import { directoryChange } from '../../directory/transaction.ts';
import { BulwarkError } from '../../errors.ts';
import type { App } from '../../http/app.ts';
import { actorOf } from '../../identity/actor.ts';
import { Storage } from '../../storage/storage.ts';
import { type Device, DeviceStore, deviceView, keyFingerprint } from '../devices.ts';
import { KeyPackageStore, type StoredKeyPackage } from '../key-packages.ts';
import type { MessagingRouteDeps } from './context.ts';

const deviceParams = z.object({ deviceId: uuid('a device') }).strict();
const orgDeviceParams = z.object({ orgId: uuid('an org'), deviceId: uuid('a device') }).strict();
const listQuery = z.object({ userId: uuid('a user').optional() }).strict();
const stockQuery = z
  .object({
    ciphersuite: z
      .enum(mlsCiphersuites, { error: `expected one of ${mlsCiphersuites.join(', ')}` })
      .default(mlsCiphersuites[0]),
  })
  .strict();

/** Ed25519 over `label ‖ message` with a raw 32-byte public key (node:crypto, never our own). */
export function verifyDeviceSignature(
  publicKeyB64: string,
  label: string,
  message: Uint8Array,
  signatureB64: string,
): boolean {
  try {
    const key = createPublicKey({
      key: { kty: 'OKP', crv: 'Ed25519', x: publicKeyB64 },
      format: 'jwk',
    });
    return verify(
      null,
      Buffer.concat([Buffer.from(label, 'utf8'), message]),
      key,
      Buffer.from(signatureB64, 'base64url'),
    );
  } catch {
    return false;
  }
}

/**
 * Devices and their key packages. Every route acts on the caller's own
 * devices except the admin verification; another person's device answers
 * 404, as an unused id does.
 */
export function registerDeviceRoutes(deps: MessagingRouteDeps) {
  const { messaging } = deps;

  const ownDevice = async (req: FastifyRequest, deviceId: string): Promise<Device> => {
    const device = await new DeviceStore(messaging.storage()).get(deviceId);
    if (!device || device.userId !== actorOf(req).userId) {
      throw new BulwarkError('not_found', 'No such device.');
    }
    return device;
  };

  /** Whether two people share a project (so one may see the other's device keys). */
  const sharesProject = async (a: string, b: string): Promise<boolean> => {
    const members = new MemberStore(messaging.storage());
    const mine = new Set(await members.projectsOf(a));
    return (await members.projectsOf(b)).some((p) => mine.has(p));
  };

  /** Marks a pending device verified, with its ledger entry; its person's groups then take it. */
  const verify = async (
    req: FastifyRequest,
    target: Device,
    by: { kind: 'device' | 'admin'; id: string },
  ) => {
    if (target.status !== 'pending') {
      throw new BulwarkError(
        'conflict',
        `That device is ${target.status}, not waiting for verification.`,
      );
    }
    const owner = await messaging
      .storage()
      .db.selectFrom('users')
      .select('org_id')
      .where('id', '=', target.userId)
      .executeTakeFirst();
    await directoryChange(deps, req, async (tx) => {
      await new DeviceStore(tx.storage).markVerified(target.id, by);
      await tx.record({
        action: 'messaging.device.verify',
        target: { type: 'device', id: target.id },
        // The person's org reads it (their admins), wherever the verification came from.
        scope: { orgId: owner?.org_id ?? null },
        after: { by, fingerprint: keyFingerprint(target.signaturePublicKey) },
      });
    });
    await messaging.deviceChanged(target.userId);
    return { device: deviceView({ ...target, status: 'active', verifiedBy: by }) };
  };

  return (app: App): void => {
    app.post(
      '/v1/messaging/devices',
      { config: { action: 'messaging.devices.change' } },
      async (req, reply) => {
        const body = registerDeviceBodySchema.parse(req.body);
        if (Buffer.from(body.signaturePublicKey, 'base64url').length !== 32) {
          throw new BulwarkError(
            'bad_request',
            'signaturePublicKey must be a 32-byte Ed25519 key.',
          );
        }
        const actor = actorOf(req);
        const now = messaging.now();
        const device = await directoryChange(deps, req, async (tx) => {
          const store = new DeviceStore(tx.storage);
          // The first device of an account is trusted on first use (and logged); later ones
          // wait for verification wherever policy asks for it (entitlement.ts).
          const others = (await store.listForUser(actor.userId)).filter(
            (d) => d.status === 'active',
          );
          const created = await store.register(
            {
              userId: actor.userId,
              name: body.name,
              signaturePublicKey: body.signaturePublicKey,
              status: others.length === 0 ? 'active' : 'pending',
            },
            now,
          );
          await store.bind(actor.sessionId, created.id, now);
          await tx.record({
            action: 'messaging.device.register',
            target: { type: 'device', id: created.id },
            scope: { orgId: actor.orgId },
            after: {
              userId: actor.userId,
              signaturePublicKey: created.signaturePublicKey,
              fingerprint: keyFingerprint(created.signaturePublicKey),
              status: created.status,
            },
          });
          return created;
        });
        // Its groups are woken when its first key packages arrive (it cannot be added before).
        return reply.status(201).send({ device: deviceView(device) });
      },
    );

    app.get(
      '/v1/messaging/devices',
      { config: { action: 'messaging.devices.read' } },
      async (req) => {
        const { userId } = listQuery.parse(req.query);
        const me = actorOf(req).userId;
        const target = userId ?? me;
        if (target !== me && !(await sharesProject(me, target))) {
          throw new BulwarkError('not_found', 'No such user.');
        }
        const devices = await new DeviceStore(messaging.storage()).listForUser(target);
        return { devices: devices.map(deviceView) };
      },
    );

    app.post(
      '/v1/messaging/devices/:deviceId/challenge',
      { config: { action: 'messaging.devices.change' } },
      async (req) => {
        const { deviceId } = deviceParams.parse(req.params);
        const device = await ownDevice(req, deviceId);
        if (device.status === 'revoked')
          throw new BulwarkError('conflict', 'That device was revoked.');
        const challenge = await new DeviceStore(messaging.storage()).issueChallenge(
          actorOf(req).sessionId,
          deviceId,
          messaging.now(),
        );
        return { challenge: challenge.toString('base64url') };
      },
    );

    app.post(
      '/v1/messaging/devices/:deviceId/bind',
      { config: { action: 'messaging.devices.change' } },
      async (req) => {
        const { deviceId } = deviceParams.parse(req.params);
        const { signature } = bindDeviceBodySchema.parse(req.body);
        const device = await ownDevice(req, deviceId);
        if (device.status === 'revoked')
          throw new BulwarkError('conflict', 'That device was revoked.');
        const actor = actorOf(req);
        const store = new DeviceStore(messaging.storage());
        const challenge = await store.takeChallenge(actor.sessionId, deviceId, messaging.now());
        if (challenge === null) {
          throw new BulwarkError(
            'bad_request',
            'No live challenge for this device: ask for one first.',
          );
        }
        if (
          !verifyDeviceSignature(device.signaturePublicKey, deviceBindLabel, challenge, signature)
        ) {
          throw new BulwarkError('forbidden', "The signature is not the device's.");
        }
        await store.bind(actor.sessionId, deviceId, messaging.now());
        return { device: deviceView(device) };
      },
    );

    app.post(
      '/v1/messaging/devices/:deviceId/verify',
      { config: { action: 'messaging.devices.change' } },
      async (req) => {
        const { deviceId } = deviceParams.parse(req.params);
        const { signature } = verifyDeviceBodySchema.parse(req.body);
        const target = await ownDevice(req, deviceId);
        const actor = actorOf(req);
        const voucher = await new DeviceStore(messaging.storage()).ofSession(actor.sessionId);
        if (voucher?.status !== 'active' || voucher.id === target.id) {
          throw new BulwarkError(
            'forbidden',
            'Verify a device from a session bound to another verified device of yours.',
          );
        }
        const key = Buffer.from(target.signaturePublicKey, 'base64url');
        if (!verifyDeviceSignature(voucher.signaturePublicKey, deviceVerifyLabel, key, signature)) {
          throw new BulwarkError('forbidden', "The signature is not your verifying device's.");
        }
        return verify(req, target, { kind: 'device', id: voucher.id });
      },
    );

    app.post(
      '/v1/orgs/:orgId/devices/:deviceId/verify',
      { config: { action: 'messaging.devices.admin-verify' } },
      async (req) => {
        const { orgId, deviceId } = orgDeviceParams.parse(req.params);
        const storage = messaging.storage();
        const target = await new DeviceStore(storage).get(deviceId);
        const owner = target
          ? await storage.db
              .selectFrom('users')
              .select('org_id')
              .where('id', '=', target.userId)
              .executeTakeFirst()
          : undefined;
        // Admins verify their own org's people only; anything else is not theirs to see.
        if (!target || owner?.org_id !== orgId || authzOf(req).scope.orgId !== orgId) {
          throw new BulwarkError('not_found', 'No such device.');
        }
        return verify(req, target, { kind: 'admin', id: actorOf(req).userId });
      },
    );

    app.delete(
      '/v1/messaging/devices/:deviceId',
      { config: { action: 'messaging.devices.change' } },
      async (req, reply) => {
        const { deviceId } = deviceParams.parse(req.params);
        const device = await ownDevice(req, deviceId);
        if (device.status !== 'revoked') {
          await directoryChange(deps, req, async (tx) => {
            await new DeviceStore(tx.storage).revoke(deviceId, messaging.now());
            await tx.record({
              action: 'messaging.device.revoke',
              target: { type: 'device', id: deviceId },
              scope: { orgId: actorOf(req).orgId },
              after: { fingerprint: keyFingerprint(device.signaturePublicKey) },
            });
          });
          await messaging.signalDevice(deviceId, { v: 1, type: 'revoked' });
          await messaging.reconcileDevice(deviceId);
        }
        return reply.status(204).send();
      },
    );

    app.post(
      '/v1/messaging/devices/:deviceId/key-packages',
      { config: { action: 'messaging.devices.change' }, bodyLimit: 4 * 1024 * 1024 },
      async (req) => {
        const { deviceId } = deviceParams.parse(req.params);
        const body = uploadKeyPackagesBodySchema.parse(req.body);
        const device = await ownDevice(req, deviceId);
        if (device.status === 'revoked')
          throw new BulwarkError('conflict', 'That device was revoked.');
        const now = messaging.now();
        const accepted: StoredKeyPackage[] = [];
        const all = [
          ...body.keyPackages.map((data) => ({ data, lastResort: false })),
          ...(body.lastResort ? [{ data: body.lastResort, lastResort: true }] : []),
        ];
        for (const [i, { data, lastResort }] of all.entries()) {
          const what = lastResort ? 'lastResort' : `keyPackages[${i}]`;
          const kp = await messaging.mls.inspectKeyPackage(
            new Uint8Array(Buffer.from(data, 'base64url')),
          );
          if (!kp.signatureValid)
            throw new BulwarkError('bad_request', `${what}: its signature does not verify.`);
          if (kp.credential.deviceId !== device.id || kp.credential.userId !== device.userId) {
            throw new BulwarkError('bad_request', `${what}: its credential names another device.`);
          }
          if (kp.signaturePublicKey !== device.signaturePublicKey) {
            throw new BulwarkError(
              'bad_request',
              `${what}: it is not signed by this device's identity key.`,
            );
          }
          if (kp.notAfter <= now) throw new BulwarkError('bad_request', `${what}: it has expired.`);
          if (kp.lastResort !== lastResort) {
            throw new BulwarkError(
              'bad_request',
              `${what}: ${lastResort ? 'it lacks' : 'it carries'} the last_resort extension.`,
            );
          }
          accepted.push({
            ref: kp.ref,
            ciphersuite: kp.ciphersuite,
            data,
            lastResort,
            notAfter: kp.notAfter,
          });
        }
        const outer = messaging.storage();
        const suites = [...new Set(accepted.map((p) => p.ciphersuite))];
        const stockBefore = await Promise.all(
          suites.map((suite) => new KeyPackageStore(outer).stock(deviceId, suite, now)),
        );
        await outer.db.transaction().execute(async (trx) => {
          const storage = new Storage(trx, outer.backend, outer.fields);
          await new KeyPackageStore(storage).add(deviceId, accepted, now);
        });
        // A device that had run dry may be waiting to be added somewhere: wake its groups.
        if (stockBefore.some((st) => st.available === 0 && !st.lastResort)) {
          await messaging.deviceChanged(device.userId);
        }
        const suite = accepted[0]?.ciphersuite ?? mlsCiphersuites[0];
        return new KeyPackageStore(outer).stock(deviceId, suite, now);
      },
    );

    app.get(
      '/v1/messaging/devices/:deviceId/key-packages',
      { config: { action: 'messaging.devices.change' } },
      async (req) => {
        const { deviceId } = deviceParams.parse(req.params);
        const { ciphersuite } = stockQuery.parse(req.query);
        await ownDevice(req, deviceId);
        return new KeyPackageStore(messaging.storage()).stock(
          deviceId,
          ciphersuite,
          messaging.now(),
        );
      },
    );
  };
}
