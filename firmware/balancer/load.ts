// Demand as the power manager reads it: events per second over a sliding window of one-second
// buckets. Time enters as an argument, so the meter is pure arithmetic under test.

export const RATE_WINDOW_MS = 10_000;
const BUCKET_MS = 1000;

export class RateMeter {
  private readonly buckets = new Map<number, number>();
  total = 0;

  constructor(private readonly windowMs = RATE_WINDOW_MS) {}

  add(at: number, count = 1): void {
    const bucket = Math.floor(at / BUCKET_MS);
    this.buckets.set(bucket, (this.buckets.get(bucket) ?? 0) + count);
    this.total += count;
    this.prune(bucket);
  }

  /** Events per second over the window ending at `at` (the current bucket counts in full). */
  perSecond(at: number): number {
    const now = Math.floor(at / BUCKET_MS);
    this.prune(now);
    let sum = 0;
    for (const [bucket, count] of this.buckets) if (bucket > now - this.windowMs / BUCKET_MS) sum += count;
    return Math.round((sum / (this.windowMs / 1000)) * 100) / 100;
  }

  private prune(now: number): void {
    const oldest = now - this.windowMs / BUCKET_MS;
    for (const bucket of this.buckets.keys()) if (bucket <= oldest) this.buckets.delete(bucket);
  }
}
