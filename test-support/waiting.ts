/** Waiting helpers for tests in any package: bounded, with a message that says what did not happen. */

/** Rejects if `promise` does not settle within `ms`. */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Resolves once `condition` holds, checking every `intervalMs`; rejects after
 * `timeoutMs`. A condition that throws counts as not holding yet.
 */
export async function until(
  condition: () => boolean | Promise<boolean>,
  what: string,
  { timeoutMs = 20_000, intervalMs = 20 }: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; ) {
    if (
      await Promise.resolve()
        .then(condition)
        .catch(() => false)
    )
      return;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}`);
}

/**
 * Milliseconds from `since` until `condition` holds, checked every
 * `intervalMs` (as {@link until}); rejects after `limitMs` more: for tests
 * that measure how soon something happens, and print it.
 */
export async function msUntil(
  since: number,
  condition: () => boolean | Promise<boolean>,
  what: string,
  limitMs: number,
  intervalMs = 10,
): Promise<number> {
  await until(condition, what, { timeoutMs: limitMs, intervalMs });
  return Date.now() - since;
}
