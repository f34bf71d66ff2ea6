import { generateSigningKey } from '../auth/identity.js';
import type { CommandTable } from './context.js';

/** Key material for operators (docs/operations.md). Nothing is stored: the output is the only copy. */
export const keysCommands: CommandTable = {
  'keys generate': {
    usage: 'keys generate',
    summary:
      'A new Ed25519 identity signing key: set IDENTITY_SIGNING_KEY to private_key_pem; publish public_key_pem during a rotation.',
    options: {},
    async run() {
      const key = await generateSigningKey();
      return { private_key_pem: key.privatePem, public_key_pem: key.publicPem, kid: key.kid };
    },
  },
};
