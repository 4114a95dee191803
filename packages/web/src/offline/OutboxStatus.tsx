/** INTERFACE STUB — the offline helper replaces it: queued / conflict count with a detail popover. */
export function OutboxStatus() {
  return null;
}
