/**
 * The chat core validates frames with zod, which probes whether it may
 * compile validators with `new Function`. The CSP forbids that (no
 * 'unsafe-eval'), and the probe alone raises a CSP violation report, so
 * zod is told up front to stay interpreted. Imported first by the chat page.
 */
import { config } from 'zod';

config({ jitless: true });
