// libuv's handles as Node's own modules use them (process.binding), for the two things a helper does
// that would otherwise load the heaviest modules it could touch: dialling the daemon (node:net, with
// the stream stack) and starting it (node:child_process, with net and dgram). pipe.ts and spawn.ts
// check every shape they rely on and fall back to the public modules when it differs, so a future
// Node without these bindings is slower, never wrong.

/**
 * The binding, or undefined: when process.binding is gone, or would print a deprecation warning
 * (--pending-deprecation) into a helper's stderr, which git shows to its user.
 */
export function legacyBinding(name: 'pipe_wrap' | 'stream_wrap' | 'process_wrap'): Record<string, unknown> | undefined {
  if (process.execArgv.includes('--pending-deprecation') || /--pending-deprecation/.test(process.env.NODE_OPTIONS ?? '')) return undefined;
  try {
    const binding = (process as unknown as { binding?: (name: string) => unknown }).binding;
    const b = typeof binding === 'function' ? binding.call(process, name) : undefined;
    return typeof b === 'object' && b !== null ? (b as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** libuv's error name for a negative status (ENOENT, ECONNREFUSED, …). */
export function errname(status: number): string {
  try {
    return process.getBuiltinModule('node:util').getSystemErrorName(status);
  } catch {
    return `E${-status}`;
  }
}
