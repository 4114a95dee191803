/**
 * Framing of everything this package puts on the wire: an RFC 9420 MLSMessage
 * (§6) in every case — key packages, welcomes, group infos, public and
 * private messages — so one decoder reads them all and the wire format says
 * what a blob is.
 */
import { decodeMlsMessage, encodeMlsMessage, type MLSMessage, type Proposal } from 'ts-mls';
import { bytesEqual } from './encoding.ts';
import { MlsWireError } from './errors.ts';

type Wireformat = MLSMessage['wireformat'];
type MessageOf<W extends Wireformat> = MLSMessage & { wireformat: W };

const wireformatNames: Record<Wireformat, string> = {
  mls_public_message: 'a public message',
  mls_private_message: 'a private message',
  mls_welcome: 'a welcome',
  mls_group_info: 'a group info',
  mls_key_package: 'a key package',
};

/** The largest MLS message we will try to decode (a 1000-member welcome is well under this). */
export const MAX_MLS_MESSAGE_BYTES = 4 * 1024 * 1024;

/**
 * Decodes one complete MLSMessage. Throws MlsWireError — and only
 * MlsWireError — for anything else: garbage, truncation, trailing bytes, and
 * non-canonical encodings (a re-encoding must reproduce the input byte for
 * byte, so references hashed over the re-encoding match what was sent).
 */
export function decodeWire(bytes: Uint8Array): MLSMessage {
  if (!(bytes instanceof Uint8Array))
    throw new MlsWireError('malformed', 'MLS message must be a Uint8Array');
  if (bytes.length === 0) throw new MlsWireError('malformed', 'MLS message is empty');
  if (bytes.length > MAX_MLS_MESSAGE_BYTES) {
    throw new MlsWireError(
      'malformed',
      `MLS message is ${bytes.length} bytes, over the ${MAX_MLS_MESSAGE_BYTES} limit`,
    );
  }
  let decoded: [MLSMessage, number] | undefined;
  try {
    decoded = decodeMlsMessage(bytes, 0);
  } catch (cause) {
    throw new MlsWireError('malformed', 'bytes do not decode as an MLS message', { cause });
  }
  if (decoded === undefined)
    throw new MlsWireError('malformed', 'bytes do not decode as an MLS message');
  const [message, length] = decoded;
  if (length !== bytes.length) {
    throw new MlsWireError('malformed', `MLS message has ${bytes.length - length} trailing bytes`);
  }
  let reencoded: Uint8Array;
  try {
    reencoded = encodeMlsMessage(message);
  } catch (cause) {
    throw new MlsWireError('malformed', 'MLS message does not re-encode', { cause });
  }
  if (!bytesEqual(reencoded, bytes)) {
    throw new MlsWireError(
      'malformed',
      'MLS message is not in canonical (minimal-length) encoding',
    );
  }
  rejectShadowedProposals(message);
  return message;
}

/**
 * ts-mls decodes a proposal whose body does not parse as its registered type
 * by falling back to a "custom" proposal carrying the same type number, so a
 * truncated Remove can decode as custom(3). RFC 9420 §17.4 reserves 1..7 for
 * the default types; a custom proposal with one of those numbers is malformed.
 */
function rejectShadowedProposals(message: MLSMessage): void {
  if (message.wireformat !== 'mls_public_message') return;
  const { content } = message.publicMessage;
  const proposals: Proposal[] =
    content.contentType === 'proposal'
      ? [content.proposal]
      : content.contentType === 'commit'
        ? content.commit.proposals.flatMap((p) =>
            p.proposalOrRefType === 'proposal' ? [p.proposal] : [],
          )
        : [];
  for (const p of proposals) {
    if (typeof p.proposalType === 'number' && p.proposalType >= 1 && p.proposalType <= 7) {
      throw new MlsWireError(
        'malformed',
        `proposal of type ${p.proposalType} does not decode as that type`,
      );
    }
  }
}

/** Decodes and requires a given wire format, naming both in the error. */
export function decodeWireAs<W extends Wireformat>(bytes: Uint8Array, wireformat: W): MessageOf<W> {
  const message = decodeWire(bytes);
  if (message.wireformat !== wireformat) {
    throw new MlsWireError(
      'refused',
      `expected ${wireformatNames[wireformat]}, got ${wireformatNames[message.wireformat]}`,
    );
  }
  return message as MessageOf<W>;
}

export function encodeWire(message: MLSMessage): Uint8Array {
  return encodeMlsMessage(message);
}

export function describeWireformat(w: Wireformat): string {
  return wireformatNames[w];
}
