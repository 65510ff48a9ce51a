/** A promise that resolves after `ms` milliseconds (the daemon client's, control's and probe's waits). */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
