import { generateEnrollmentToken, generateNodeKey } from '../auth/node-keys.js';
import { isGatewayError } from '../errors.js';
import { createLogger } from '../ops/logger.js';
import { createAuditLog } from '../store/audit.js';
import { publicNode } from '../http/present.js';
import { createNodeStore } from '../store/nodes.js';
import { createTenantStore, UUID_RE, type Tenant } from '../store/tenants.js';
import { rfc3339 } from '../util/time.js';
import { CliError, need, optional, type ParsedArgs } from './args.js';
import type { CliContext, CommandTable } from './context.js';

const DEFAULT_TTL_MINUTES = 60;
const MAX_TTL_MINUTES = 7 * 24 * 60;
const TENANT = { type: 'string', description: 'the tenant domain' } as const;
const NAME = { type: 'string', description: 'node name, 1 to 200 characters' } as const;

async function tenantOf(args: ParsedArgs, ctx: CliContext, requireActive = true): Promise<Tenant> {
  const domain = need(args, 'tenant');
  const tenant = await createTenantStore(await ctx.db()).findByDomain(domain);
  if (!tenant) throw new CliError(`no tenant with domain ${domain}`, 1);
  if (requireActive && tenant.status !== 'active') throw new CliError(`tenant ${tenant.domain} is ${tenant.status}`, 1);
  return tenant;
}

function nameOf(args: ParsedArgs): string {
  const name = need(args, 'name').trim();
  if (name.length === 0 || name.length > 200) throw new CliError('--name must be 1 to 200 characters');
  return name;
}

/** Store conflicts (an active node of that name) become a clear CLI error, exit 1. */
async function orCliError<T>(work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (err) {
    if (isGatewayError(err) && err.code === 'CONFLICT')
      throw new CliError(`${err.publicMessage}; revoke it first (node revoke --id …)`, 1);
    throw err;
  }
}

async function audit(ctx: CliContext) {
  // The CLI prints JSON on stdout; audit lines would corrupt it, so the row goes to Postgres only.
  return createAuditLog(await ctx.db(), createLogger({ level: 'silent', format: 'json', destination: process.stderr }));
}

/** Edge-node administration (docs/edge-nodes.md). Raw keys and tokens are printed once and only their SHA-256 is stored. */
export const nodeCommands: CommandTable = {
  'node create': {
    usage: 'node create --tenant D --name N',
    summary: 'Registers an edge node and prints its API key once (only its SHA-256 is stored).',
    options: { tenant: TENANT, name: NAME },
    async run(args, ctx) {
      const name = nameOf(args);
      const tenant = await tenantOf(args, ctx);
      const db = await ctx.db();
      const key = generateNodeKey();
      const node = await orCliError(createNodeStore(db).create({ tenantId: tenant.id, name, apiKeyHash: key.hash }));
      await (
        await audit(ctx)
      ).record({ event: 'node_registered', tenantId: tenant.id, nodeId: node.id, detail: { name, via: 'cli' } });
      return { id: node.id, tenant_id: node.tenantId, name: node.name, api_key: key.rawKey };
    },
  },
  'node enroll': {
    usage: `node enroll --tenant D --name N [--ttl-minutes M (default ${DEFAULT_TTL_MINUTES})]`,
    summary: 'A one-time enrollment token a node exchanges for its API key (POST /api/v1/nodes/register).',
    options: {
      tenant: TENANT,
      name: NAME,
      'ttl-minutes': { type: 'string', description: `token lifetime, 1 to ${MAX_TTL_MINUTES} minutes` },
    },
    async run(args, ctx) {
      const name = nameOf(args);
      const ttlText = optional(args, 'ttl-minutes') ?? String(DEFAULT_TTL_MINUTES);
      const ttl = Number(ttlText);
      if (!/^\d+$/.test(ttlText) || ttl < 1 || ttl > MAX_TTL_MINUTES)
        throw new CliError(`--ttl-minutes must be a whole number from 1 to ${MAX_TTL_MINUTES}`);
      const tenant = await tenantOf(args, ctx);
      const token = generateEnrollmentToken();
      const expiresAt = new Date(Date.now() + ttl * 60_000);
      await createNodeStore(await ctx.db()).createEnrollment({
        tenantId: tenant.id,
        name,
        tokenHash: token.hash,
        expiresAt,
      });
      return { enrollment_token: token.rawToken, expires_at: rfc3339(expiresAt) };
    },
  },
  'node revoke': {
    usage: 'node revoke --id ID',
    summary: 'Revokes a node key at once on every instance. Idempotent.',
    options: { id: { type: 'string', description: 'the node id (UUID)' } },
    async run(args, ctx) {
      const id = need(args, 'id').trim().toLowerCase();
      if (!UUID_RE.test(id)) throw new CliError('--id must be a node id (UUID)');
      const result = await createNodeStore(await ctx.db()).revoke(id);
      if (!result) throw new CliError(`no node with id ${id}`, 1);
      // Idempotent: revoking again reports the node as it is, and audits nothing new.
      if (!result.alreadyRevoked) {
        await (
          await audit(ctx)
        ).record({
          event: 'node_revoked',
          tenantId: result.node.tenantId,
          nodeId: result.node.id,
          detail: { name: result.node.name, via: 'cli' },
        });
      }
      return { ...publicNode(result.node), already_revoked: result.alreadyRevoked };
    },
  },
  'node list': {
    usage: 'node list --tenant D',
    summary: "A tenant's nodes (never keys or hashes).",
    options: { tenant: TENANT },
    async run(args, ctx) {
      const tenant = await tenantOf(args, ctx, false);
      return (await createNodeStore(await ctx.db()).listByTenant(tenant.id)).map(publicNode);
    },
  },
};
