import { createHash, randomBytes } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { Logger } from 'pino';
import { systemClock, type Clock } from '../clock.js';
import { isGatewayError, unavailable } from '../errors.js';
import type { NotificationFeed, PgListenerOptions } from '../store/listener.js';
import { NODE_REVOKED_CHANNEL, type NodeStore } from '../store/nodes.js';
import type { NodeIdentity } from './types.js';

/** Raw node keys (docs/edge-nodes.md): `g2dn_` + 32 random bytes as unpadded base64url (43 chars). */
export const NODE_KEY_RE = /^g2dn_[A-Za-z0-9_-]{43}$/;
/** One-time enrollment tokens (docs/edge-nodes.md): `g2de_` + 32 random bytes, same encoding. */
export const ENROLLMENT_TOKEN_RE = /^g2de_[A-Za-z0-9_-]{43}$/;

/** SHA-256 hex of a raw key or token: the only form that is ever stored (docs/api.md). */
export function hashKey(raw: string): string {
  return createHash('sha256').update(raw, 'utf8').digest('hex');
}

function secret(prefix: string): { raw: string; hash: string } {
  const raw = `${prefix}${randomBytes(32).toString('base64url')}`;
  return { raw, hash: hashKey(raw) };
}

/** A fresh node API key and its digest; the raw key is shown once and never stored or logged. */
export function generateNodeKey(): { rawKey: string; hash: string } {
  const { raw, hash } = secret('g2dn_');
  return { rawKey: raw, hash };
}

/** A fresh one-time enrollment token and its digest. */
export function generateEnrollmentToken(): { rawToken: string; hash: string } {
  const { raw, hash } = secret('g2de_');
  return { rawToken: raw, hash };
}

export interface NodeKeyAuthenticator {
  /**
   * The node this raw key belongs to, or null (not a key, unknown, revoked). Throws the 503
   * GatewayError when Postgres is needed and unreachable: an outage is never a 401 (a broken dependency is never a "no": docs/operations.md).
   * Callers count a null as a failed node authentication (throttle, audit, metrics).
   */
  authenticate(rawKey: string): Promise<NodeIdentity | null>;
  /** Forgets every cached key of this node at once (rotation/revocation on this instance). */
  evictNode(nodeId: string): void;
  /** Whether the revocation LISTEN connection is up (readiness, metrics, tests). */
  listening(): boolean;
  /** Opens the LISTEN connection (retries in the background on failure; never throws). */
  start(): Promise<void>;
  close(): Promise<void>;
}

export interface NodeKeyOptions {
  /** How long a verified key is trusted without asking Postgres while revocations are heard. */
  readonly cacheTtlMs?: number;
  /** How long "no such key" is remembered (a flood of junk keys costs one query each per window). */
  readonly negativeTtlMs?: number;
  /** Entries per cache (positive and negative are separate, so junk keys cannot evict real ones). */
  readonly max?: number;
  /** Positive TTL cap while the LISTEN connection is down, so a missed NOTIFY still expires in time. */
  readonly listenerDownTtlMs?: number;
  /** How long a verified key keeps working while Postgres is unreachable (docs/operations.md). */
  readonly staleIfErrorMs?: number;
  /** After Postgres failed, skip it for this long (serve cached keys, fail uncached ones fast). */
  readonly outageBackoffMs?: number;
  /** `last_seen_at` is written at most this often per node. */
  readonly lastSeenIntervalMs?: number;
  readonly listener?: PgListenerOptions;
}

interface Entry {
  readonly identity: NodeIdentity;
  /** Clock time the Postgres lookup that produced it started. */
  readonly validatedAt: number;
  /** The listener generation it was validated in; a drop or reconnect makes it stale. */
  readonly gen: number;
  /** Clock time the key stops working whatever happens: a previous key's grace end (else Infinity). */
  readonly notAfter: number;
}

function positiveOption(name: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0) throw new Error(`node keys: ${name} must be a positive number`);
  return value;
}

function isOutage(err: unknown): boolean {
  return isGatewayError(err) && err.code === 'SERVICE_UNAVAILABLE';
}

/**
 * Node API key verification (docs/edge-nodes.md). The key is hashed (SHA-256 hex) and looked up
 * as an active node; results are kept in bounded in-process LRUs. Every instance LISTENs on
 * `g2d_node_revoked`, so a revocation or rotation evicts the node everywhere within a second or
 * two. While that connection is down, entries validated before the drop are re-checked on next
 * use and new ones live at most 5 s, so the 5 s bound holds without it. When Postgres is down,
 * keys verified earlier keep working (stale-if-error) and unknown ones fail with 503.
 */
export function createNodeKeyAuthenticator(
  deps: {
    nodes: Pick<NodeStore, 'findByKeyHash' | 'touchLastSeen' | 'retirePreviousKey' | 'findById'>;
    /**
     * Postgres notifications (store/listener.ts): node revocations and rotations arrive on
     * NODE_REVOKED_CHANNEL. null: none (embedded Postgres); every entry then lives at most listenerDownTtlMs.
     */
    feed: NotificationFeed | null;
    log: Logger;
    clock?: Clock;
    /** Told when a change heard on the channel was a revocation (open node sockets close, docs/scale-out.md). */
    onNodeRevoked?: (nodeId: string) => void;
  },
  options: NodeKeyOptions = {},
): NodeKeyAuthenticator {
  const clock = deps.clock ?? systemClock;
  const { nodes, log } = deps;
  const ttl = positiveOption('cacheTtlMs', options.cacheTtlMs ?? 60_000);
  const negativeTtl = positiveOption('negativeTtlMs', options.negativeTtlMs ?? 5_000);
  const max = positiveOption('max', options.max ?? 10_000);
  const downTtl = Math.min(ttl, positiveOption('listenerDownTtlMs', options.listenerDownTtlMs ?? 5_000));
  const staleIfError = positiveOption('staleIfErrorMs', options.staleIfErrorMs ?? 3_600_000);
  const outageBackoff = positiveOption('outageBackoffMs', options.outageBackoffMs ?? 1_000);
  const lastSeenEvery = positiveOption('lastSeenIntervalMs', options.lastSeenIntervalMs ?? 60_000);

  // Keyed by digest, never by raw key: the raw key is not kept in memory longer than the request.
  const positive = new LRUCache<string, Entry>({ max });
  // ttlResolution 0: expiry reads the injected clock on every check (no 1 ms memo of "now").
  const negative = new LRUCache<string, true>({
    max,
    ttl: negativeTtl,
    ttlResolution: 0,
    perf: { now: () => clock.now() },
  });
  const lastTouched = new LRUCache<string, number>({ max });
  const inflight = new Map<string, Promise<NodeIdentity | null>>();
  let gen = 0;
  let notifySeq = 0;
  let outageUntil = 0;

  function evictNode(nodeId: string): void {
    const doomed: string[] = [];
    // A linear scan of at most `max` entries, run once per revocation or rotation (rare events);
    // a reverse index would cost bookkeeping on every insert and eviction instead.
    for (const [hash, entry] of positive.entries()) if (entry.identity.nodeId === nodeId) doomed.push(hash);
    for (const hash of doomed) positive.delete(hash);
  }

  // A notification says a node changed (revoked, or its key rotated): which one, the row tells.
  const onNodeRevoked = deps.onNodeRevoked;
  const reportIfRevoked = (nodeId: string) => {
    if (!onNodeRevoked) return;
    nodes
      .findById(nodeId)
      .then((node) => {
        if (node?.status === 'revoked') onNodeRevoked(nodeId);
      })
      .catch(() => {});
  };
  const listener = deps.feed
    ? deps.feed.subscribe(
        NODE_REVOKED_CHANNEL,
        {
          onNotification(payload) {
            notifySeq++;
            evictNode(payload);
            reportIfRevoked(payload);
          },
          // Both edges start a new generation: what was verified before a drop may have been
          // revoked while we were deaf, and so may what was verified while deaf, before LISTEN was back.
          onConnected() {
            gen++;
          },
          onDisconnected() {
            gen++;
          },
        },
        options.listener,
      )
    : null;
  if (!listener) log.warn('node keys: no revocation notifications; cached node keys are re-checked every 5 s');

  function isFresh(entry: Entry, now: number): boolean {
    if (entry.gen !== gen || now >= entry.notAfter) return false;
    return now - entry.validatedAt < (listener?.connected ? ttl : downTtl);
  }

  function touch(nodeId: string, now: number): void {
    const last = lastTouched.get(nodeId);
    if ((last !== undefined && now - last < lastSeenEvery) || now < outageUntil) return;
    lastTouched.set(nodeId, now);
    // Fire and forget: bookkeeping must never fail or slow down the request it rides on.
    nodes.touchLastSeen(nodeId).catch((err: unknown) => {
      log.warn(
        { nid: nodeId, err: err instanceof Error ? err.message : String(err) },
        'node last_seen_at update failed',
      );
    });
  }

  async function lookup(hash: string): Promise<NodeIdentity | null> {
    const startedAt = clock.now();
    const startGen = gen;
    const startSeq = notifySeq;
    let match;
    try {
      match = await nodes.findByKeyHash(hash, new Date(startedAt));
    } catch (err) {
      if (isOutage(err)) outageUntil = clock.now() + outageBackoff;
      throw err;
    }
    if (!match) {
      positive.delete(hash);
      negative.set(hash, true);
      return null;
    }
    const { node } = match;
    const identity: NodeIdentity = { kind: 'node', tenantId: node.tenantId, nodeId: node.id, nodeName: node.name };
    let cacheable = true;
    if (match.via === 'current' && match.previousLive && !(await retirePrevious(node.id, hash))) cacheable = false;
    const notAfter = match.via === 'previous' && match.previousExpiresAt ? match.previousExpiresAt.getTime() : Infinity;
    // A NOTIFY (or a listener drop) that arrived while the query ran may concern this very row,
    // read before the revocation committed: answer this request, but do not cache the answer.
    if (cacheable && gen === startGen && notifySeq === startSeq)
      positive.set(hash, { identity, validatedAt: startedAt, gen, notAfter });
    else positive.delete(hash);
    return identity;
  }

  /**
   * The new key of a rotation was used for the first time: the previous key dies now, here at once
   * and on every other instance through the NOTIFY committed with it (docs/edge-nodes.md). A failed
   * write keeps the previous key alive until its grace ends at the latest; the answer is then not
   * cached, so the next request tries again.
   */
  async function retirePrevious(nodeId: string, currentHash: string): Promise<boolean> {
    try {
      if (await nodes.retirePreviousKey(nodeId, currentHash))
        log.info({ nid: nodeId }, 'node key rotation complete: new key used, previous key retired');
      evictNode(nodeId);
      return true;
    } catch (err) {
      log.warn(
        { nid: nodeId, err: err instanceof Error ? err.message : String(err) },
        'could not retire the previous node key; it dies at the end of its grace',
      );
      return false;
    }
  }

  return {
    async authenticate(rawKey) {
      // Anything that is not a well-formed key is refused without touching Postgres or the caches.
      if (typeof rawKey !== 'string' || !NODE_KEY_RE.test(rawKey)) return null;
      // Looked up by digest, so no constant-time compare is needed: an attacker controls the raw
      // key, not its SHA-256, and timing differences in comparing digests (map or B-tree lookup)
      // reveal at most a digest prefix, which does not help find a preimage of a 256-bit secret.
      const hash = hashKey(rawKey);
      const now = clock.now();
      const hit = positive.get(hash);
      if (hit && isFresh(hit, now)) {
        touch(hit.identity.nodeId, now);
        return hit.identity;
      }
      if (!hit && negative.get(hash)) return null;

      const stale = hit !== undefined && now - hit.validatedAt < staleIfError && now < hit.notAfter ? hit : undefined;
      if (now < outageUntil) {
        if (stale) return stale.identity;
        throw unavailable('postgres', new Error('node key lookup skipped: Postgres failed moments ago'));
      }
      // One query per digest at a time: a burst of requests with one uncached key waits together.
      let pending = inflight.get(hash);
      if (!pending) {
        pending = lookup(hash).finally(() => inflight.delete(hash));
        inflight.set(hash, pending);
      }
      try {
        const identity = await pending;
        if (identity) touch(identity.nodeId, clock.now());
        return identity;
      } catch (err) {
        // docs/operations.md: Postgres down, keys verified before keep working (stale-if-error, bounded).
        if (stale && isOutage(err)) {
          log.debug({ nid: stale.identity.nodeId }, 'postgres unavailable: serving cached node key');
          return stale.identity;
        }
        throw err;
      }
    },
    evictNode,
    listening: () => listener?.connected ?? false,
    start: async () => listener?.start(),
    async close() {
      await listener?.close();
      positive.clear();
      negative.clear();
    },
  };
}
