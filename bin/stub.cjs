#!/usr/bin/env node
// `npm run stub`: the upstream stub alone, from source in development, from dist/ in a production
// install (bin/run-entry.cjs says how it chooses).
require('./run-entry.cjs').runEntry('upstream-stub/main');
