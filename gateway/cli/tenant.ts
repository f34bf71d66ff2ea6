import { CliError, flag, need } from './args.js';
import type { CommandTable } from './context.js';
import { createTenantStore, type Tenant } from '../store/tenants.js';
import { rfc3339 } from '../util/time.js';

const DOMAIN_RE = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/;

function publicTenant(t: Tenant) {
  return {
    id: t.id,
    domain: t.domain,
    name: t.name,
    is_platform: t.isPlatform,
    status: t.status,
    created_at: rfc3339(t.createdAt),
    updated_at: rfc3339(t.updatedAt),
  };
}

export const tenantCommands: CommandTable = {
  'tenant create': {
    usage: 'tenant create --domain D --name N [--platform]',
    summary: 'Creates a tenant (workspace). Idempotent: an existing domain is returned with created=false.',
    options: {
      domain: { type: 'string', description: 'the workspace domain, stored lowercase (e.g. acme.example)' },
      name: { type: 'string', description: 'display name, 1 to 200 characters' },
      platform: { type: 'boolean', description: 'the reserved Platform tenant (at most one exists)' },
    },
    async run(args, ctx) {
      const domain = need(args, 'domain').trim().toLowerCase();
      if (!DOMAIN_RE.test(domain)) throw new CliError(`--domain "${domain}" is not a valid domain name`);
      const name = need(args, 'name').trim();
      if (name.length === 0 || name.length > 200) throw new CliError('--name must be 1 to 200 characters');
      const { tenant, created } = await createTenantStore(await ctx.db()).create({
        domain,
        name,
        isPlatform: flag(args, 'platform'),
      });
      return {
        id: tenant.id,
        domain: tenant.domain,
        name: tenant.name,
        is_platform: tenant.isPlatform,
        status: tenant.status,
        created,
      };
    },
  },
  'tenant list': {
    usage: 'tenant list',
    summary: 'Every tenant as a JSON array, ordered by domain.',
    options: {},
    async run(_args, ctx) {
      return (await createTenantStore(await ctx.db()).list()).map(publicTenant);
    },
  },
};
