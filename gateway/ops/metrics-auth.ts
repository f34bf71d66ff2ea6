/**
 * The authentication half of the gateway's metrics (metrics.ts composes it into createMetrics):
 * logins, lockouts, refused node credentials and tokens, and checks that failed open. Every label
 * value comes from a closed union in metric-labels.ts, and every fixed series exists from the start.
 */
import { Counter, type Registry } from 'prom-client';
import {
  DEPENDENCIES,
  LOGIN_OUTCOMES,
  NODE_FAILURE_REASONS,
  TOKEN_REJECTION_REASONS,
  type Dependency,
  type NodeFailureReason,
} from './metric-labels.js';

export interface AuthMetrics {
  login(outcome: string): void;
  lockout(): void;
  nodeAuthFailure(reason: NodeFailureReason): void;
  tokenRejected(reason: string): void;
  /** A revocation or status check failed open because a dependency was down (docs/operations.md). */
  failOpen(dependency: Dependency): void;
}

/** Registers the authentication metrics into `registry` (in this order, after the HTTP ones). */
export function createAuthMetrics(registry: Registry): AuthMetrics {
  const logins = new Counter({
    name: 'g2d_gateway_login_total',
    help: 'Login attempts by outcome',
    labelNames: ['outcome'] as const,
    registers: [registry],
  });
  const lockouts = new Counter({
    name: 'g2d_gateway_lockouts_total',
    help: 'Accounts locked after too many failed logins',
    registers: [registry],
  });
  const nodeFailures = new Counter({
    name: 'g2d_gateway_node_auth_failures_total',
    help: 'Edge-node credentials refused, by reason (malformed, key, enrollment)',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  const tokenRejections = new Counter({
    name: 'g2d_gateway_token_rejections_total',
    help: 'Bearer tokens refused, by reason',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  const failOpen = new Counter({
    name: 'g2d_gateway_fail_open_total',
    help: 'Revocation or user-status checks that failed open because a dependency was down',
    labelNames: ['dependency'] as const,
    registers: [registry],
  });

  // Every fixed series exists from the start (a zero is information; a missing series is not).
  for (const o of LOGIN_OUTCOMES) logins.inc({ outcome: o }, 0);
  for (const r of TOKEN_REJECTION_REASONS) tokenRejections.inc({ reason: r }, 0);
  for (const r of NODE_FAILURE_REASONS) nodeFailures.inc({ reason: r }, 0);
  for (const d of DEPENDENCIES) failOpen.inc({ dependency: d }, 0);
  const reasons = new Set<string>(TOKEN_REJECTION_REASONS);
  const outcomes = new Set<string>(LOGIN_OUTCOMES);

  return {
    login: (outcome) => logins.inc({ outcome: outcomes.has(outcome) ? outcome : 'bad_request' }),
    lockout: () => lockouts.inc(),
    nodeAuthFailure: (reason) => nodeFailures.inc({ reason }),
    tokenRejected: (reason) => tokenRejections.inc({ reason: reasons.has(reason) ? reason : 'malformed' }),
    failOpen: (dependency) => failOpen.inc({ dependency }),
  };
}
