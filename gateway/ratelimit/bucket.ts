/**
 * Token-bucket arithmetic for request limits (docs/configuration.md, "Request limits"). A policy
 * `<limit>/<seconds>[:<burst>]` is a bucket of `burst` requests refilled continuously at
 * `limit / seconds`; a request is admitted while the bucket holds at least one. Over any span of
 * `seconds` a key is admitted at most `limit + burst` requests (the bucket's content at the start
 * plus what flows in), and over long spans `limit` per `seconds`.
 *
 * Pure functions on a mutable record, with time passed in (milliseconds), so the hot path
 * allocates nothing and tests drive it with any clock.
 */
import type { RateLimitPolicy } from '../config/types.js';

/** A policy in the units the arithmetic uses. */
export interface BucketShape {
  /** The bucket's size in requests (the burst). */
  readonly capacity: number;
  /** Requests that flow in per millisecond. */
  readonly perMs: number;
  /** Milliseconds one request's worth takes to flow in (the GCRA emission interval). */
  readonly msPerRequest: number;
}

/** One key's bucket on one instance: a local view of the shared bucket, corrected at each sync. */
export interface Bucket {
  /** Requests available now (fractional; negative while other instances' excess is paid back). */
  tokens: number;
  /** When `tokens` was last brought up to date (ms). */
  at: number;
  /** Admitted here since the last report to the shared store. */
  pending: number;
  /** Admitted and reported in the sync now running (its answer already counts them). */
  inFlight: number;
  /** Used since the last sync: the next sync reports (and refreshes) it. */
  touched: boolean;
  /** Last request seen (ms): idle buckets are dropped. */
  lastUsed: number;
}

export function shapeOf(policy: RateLimitPolicy): BucketShape {
  const msPerRequest = (policy.windowSeconds * 1000) / policy.limit;
  return { capacity: policy.burst, perMs: 1 / msPerRequest, msPerRequest };
}

/** A full bucket: a key never seen starts with its whole burst. */
export function newBucket(shape: BucketShape, now: number): Bucket {
  return { tokens: shape.capacity, at: now, pending: 0, inFlight: 0, touched: false, lastUsed: now };
}

/** Lets what flowed in since `at` into the bucket, up to its size. A clock going back adds nothing. */
export function refill(b: Bucket, shape: BucketShape, now: number): void {
  if (now <= b.at) return;
  const tokens = b.tokens + (now - b.at) * shape.perMs;
  b.tokens = tokens > shape.capacity ? shape.capacity : tokens;
  b.at = now;
}

/** Whether a request may pass now (call refill first). */
export function hasRoom(b: Bucket): boolean {
  return b.tokens >= 1;
}

/** Spends one request. */
export function take(b: Bucket): void {
  b.tokens -= 1;
  b.pending += 1;
}

/** Milliseconds until one whole request is available (0 when one is). */
export function msUntilRoom(b: Bucket, shape: BucketShape): number {
  return b.tokens >= 1 ? 0 : (1 - b.tokens) * shape.msPerRequest;
}

/** Milliseconds until the bucket is full again. */
export function msUntilFull(b: Bucket, shape: BucketShape): number {
  return b.tokens >= shape.capacity ? 0 : (shape.capacity - b.tokens) * shape.msPerRequest;
}

/**
 * Replaces the local view with the shared one after a sync: the shared store answered the key's
 * debt (milliseconds of requests booked beyond now, this instance's report included), so the
 * bucket holds `capacity − debt / msPerRequest`, less what was admitted here since the report left.
 */
export function reconcile(b: Bucket, shape: BucketShape, debtMs: number, now: number): void {
  const shared = shape.capacity - Math.max(0, debtMs) / shape.msPerRequest;
  b.tokens = shared - b.pending;
  b.at = now;
  b.inFlight = 0;
}
