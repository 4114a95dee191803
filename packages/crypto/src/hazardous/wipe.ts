/**
 * Zeroing of secret buffers. JavaScript cannot guarantee no copy survives
 * (the GC may have moved it, WebCrypto keeps its own), so this narrows the
 * window rather than closing it — as SECURITY.md says, "where the runtime
 * allows". Uses ts-mls' routine, which is what its README prescribes for the
 * `consumed` secrets every operation returns.
 */
import { zeroOutUint8Array } from 'ts-mls';

/**
 * Overwrites every buffer with zeros.
 * Must hold: nothing still in use references these buffers — ts-mls states
 * share buffers, so only wipe what an operation reported as consumed, and
 * only once the state that held them will never be used again.
 */
export function wipe(buffers: Iterable<Uint8Array>): void {
  for (const b of buffers) zeroOutUint8Array(b);
}
