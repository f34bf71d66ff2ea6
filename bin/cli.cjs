#!/usr/bin/env node
// `npm run cli -- <command>`: the admin CLI, from source in development, from dist/ in a production
// install (bin/run-entry.cjs says how it chooses).
require('./run-entry.cjs').runEntry('gateway/cli/main');
