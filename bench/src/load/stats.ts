/** The q-quantile (0..1) of an ascending array, nearest-rank. */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[index] as number;
}

export const median = (values: readonly number[]): number =>
  quantile(
    [...values].sort((a, b) => a - b),
    0.5,
  );

/** What one load run measured. Latencies in milliseconds. */
export interface LoadResult {
  reqPerSec: number;
  ok: number;
  errors: number;
  p50Ms: number;
  p99Ms: number;
  /** Why the run's answers are trusted (or not). */
  check: string;
  /** Client loops: the client process's CPU over the measured window, in % of one core. */
  clientCpuPct?: number;
}
