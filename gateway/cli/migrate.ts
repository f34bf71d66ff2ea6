import { migrate } from '../store/migrate.js';
import type { CommandTable } from './context.js';

export const migrateCommands: CommandTable = {
  migrate: {
    usage: 'migrate',
    summary: 'Applies pending database migrations (idempotent; concurrent runs serialise on an advisory lock).',
    options: {},
    async run(_args, ctx) {
      return migrate(await ctx.db());
    },
  },
};
