import { migrate } from '../store/migrate.js';
import { allowOnly } from './args.js';
import type { CommandTable } from './context.js';

export const migrateCommands: CommandTable = {
  migrate: {
    usage: 'migrate',
    async run(args, ctx) {
      allowOnly(args, []);
      return migrate(await ctx.db());
    },
  },
};
