import {
  type ErrorCode,
  type RealtimeClientFrame,
  realtimeClientFrameSchema,
} from '@bulwark/protocol';

/** A client frame, or what to answer about it (the connection stays open). */
export function parseClientFrame(
  data: unknown,
  isBinary: boolean,
  maxBytes: number,
): { frame: RealtimeClientFrame } | { error: ErrorCode; message: string } {
  if (isBinary) return { error: 'bad_request', message: 'Send JSON text frames.' };
  const bytes = toBuffer(data);
  // Measured before parsing: JSON.parse of a big frame is the work this limit avoids.
  if (bytes.length > maxBytes) {
    return { error: 'payload_too_large', message: `A frame holds at most ${maxBytes} bytes.` };
  }
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch {
    return { error: 'bad_request', message: 'A frame is one JSON object.' };
  }
  const parsed = realtimeClientFrameSchema.safeParse(json);
  if (!parsed.success) {
    const message = parsed.error.issues[0]?.message ?? 'Not a frame this server knows.';
    return { error: 'bad_request', message };
  }
  return { frame: parsed.data };
}

/** What travels on the bus: `access` says the change may have taken someone's access away. */
export interface Envelope {
  v: 1;
  project: string;
  event: Record<string, unknown>;
  access?: true;
}

/**
 * The envelope of a bus message for `projectId`, or null. Checked because
 * the bus may be shared: a message for another project, or of another
 * shape, is dropped rather than forwarded.
 */
export function asEnvelope(msg: unknown, projectId: string): Envelope | null {
  if (typeof msg !== 'object' || msg === null) return null;
  const m = msg as Record<string, unknown>;
  const event = m.event;
  if (m.v !== 1 || m.project !== projectId) return null;
  if (typeof event !== 'object' || event === null || Array.isArray(event)) return null;
  return {
    v: 1,
    project: projectId,
    event: event as Record<string, unknown>,
    ...(m.access === true ? { access: true as const } : {}),
  };
}

/** `ws` hands a text frame over as a Buffer (or fragments, or an ArrayBuffer by option). */
function toBuffer(data: unknown): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data as Buffer[]);
  if (data instanceof ArrayBuffer) return Buffer.from(data);
  return Buffer.from(String(data), 'utf8');
}
