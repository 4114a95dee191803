import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  addMembers,
  asDeviceId,
  asGroupId,
  asUserId,
  createDeviceIdentity,
  createGroup,
  createServerIdentity,
  type DeviceIdentity,
  type DeviceRef,
  defaultCiphersuite,
  type GroupState,
  generateKeyPackages,
  members,
  removeMembers,
} from '@bulwark/crypto';
import fc from 'fast-check';
import { applyRosterChange } from './roster.ts';

const trustAll = { validateCredential: async () => true };

async function newDevice(): Promise<{ ref: DeviceRef; identity: DeviceIdentity }> {
  return {
    ref: { userId: asUserId(randomUUID()), deviceId: asDeviceId(randomUUID()) },
    identity: await createDeviceIdentity(),
  };
}

function leafMap(state: GroupState): (string | null)[] {
  const roster: (string | null)[] = [];
  for (const m of members(state)) roster[m.leaf] = m.deviceId;
  return Array.from(roster, (d) => d ?? null);
}

describe('the Delivery Service roster', () => {
  it('puts an added device in the leftmost blank leaf, else at the end, and trims blanks', () => {
    assert.deepEqual(applyRosterChange(['a', 'b', 'c'], [1], ['d', 'e']).roster, [
      'a',
      'd',
      'c',
      'e',
    ]);
    assert.deepEqual(applyRosterChange(['a', 'b', 'c'], [2, 1], []).roster, ['a']);
    assert.throws(() => applyRosterChange(['a', null], [1], []), /not occupied/);
  });

  it('agrees with the members’ real MLS tree under any sequence of adds and removes', async () => {
    const server = await createServerIdentity();
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            adds: fc.integer({ min: 0, max: 3 }),
            removes: fc.array(fc.nat(), { maxLength: 3 }),
          }),
          { minLength: 1, maxLength: 4 },
        ),
        async (steps) => {
          const owner = await newDevice();
          let { state } = await createGroup({
            groupId: asGroupId(crypto.getRandomValues(new Uint8Array(16))),
            suite: defaultCiphersuite,
            identity: owner.identity,
            self: owner.ref,
            serverSignaturePublicKey: server.signaturePublicKey,
            authService: trustAll,
          });
          let roster: (string | null)[] = [owner.ref.deviceId];
          for (const step of steps) {
            // Leaves other than the committer's own (0), chosen among the occupied ones.
            const occupied = roster.flatMap((d, leaf) => (d !== null && leaf !== 0 ? [leaf] : []));
            const removes = [
              ...new Set(step.removes.map((n) => occupied[n % Math.max(occupied.length, 1)])),
            ].filter((l): l is number => l !== undefined);
            if (removes.length > 0) {
              state = (await removeMembers(state, removes)).state;
              roster = applyRosterChange(roster, removes, []).roster;
            }
            if (step.adds > 0) {
              const joining = await Promise.all(Array.from({ length: step.adds }, newDevice));
              const kps = await Promise.all(
                joining.map(async (d) => {
                  const [kp] = await generateKeyPackages(d.identity, d.ref, defaultCiphersuite, 1);
                  return (kp as { public: Uint8Array }).public;
                }),
              );
              state = (await addMembers(state, kps)).state;
              roster = applyRosterChange(
                roster,
                [],
                joining.map((d) => d.ref.deviceId),
              ).roster;
            }
            assert.deepEqual(leafMap(state), roster);
          }
        },
      ),
      { numRuns: 12 },
    );
  });
});
