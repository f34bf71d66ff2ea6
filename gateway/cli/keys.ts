import { generateSigningKey } from '../auth/identity.js';
import { allowOnly } from './args.js';
import type { CommandTable } from './context.js';

/** Key material for operators (SPEC §9). Nothing is stored: the output is the only copy. */
export const keysCommands: CommandTable = {
  'keys generate': {
    usage: 'keys generate   (a new Ed25519 identity signing key: IDENTITY_SIGNING_KEY = private_key_pem)',
    async run(args) {
      allowOnly(args, []);
      const key = await generateSigningKey();
      return { private_key_pem: key.privatePem, public_key_pem: key.publicPem, kid: key.kid };
    },
  },
};
