import { allowOnly, flag, need } from './args.js';
import type { CommandTable } from './context.js';
import { createTenantStore } from '../store/tenants.js';
import { CliError } from './args.js';

const DOMAIN_RE = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/;

export const tenantCommands: CommandTable = {
  'tenant create': {
    usage: 'tenant create --domain D --name N [--platform]',
    booleans: ['platform'],
    async run(args, ctx) {
      allowOnly(args, ['domain', 'name', 'platform']);
      const domain = need(args, 'domain').trim().toLowerCase();
      if (!DOMAIN_RE.test(domain)) throw new CliError(`--domain "${domain}" is not a valid domain name`);
      const name = need(args, 'name').trim();
      if (name.length === 0 || name.length > 200) throw new CliError('--name must be 1 to 200 characters');
      const { tenant, created } = await createTenantStore(await ctx.db()).create({ domain, name, isPlatform: flag(args, 'platform') });
      return { id: tenant.id, domain: tenant.domain, name: tenant.name, is_platform: tenant.isPlatform, status: tenant.status, created };
    },
  },
};
