/**
 * `npm run openapi`: writes the OpenAPI document to docs/openapi.json, the copy clients and
 * reviewers read without running the gateway. test/unit/openapi.test.ts fails while the committed
 * copy differs from what the schemas generate.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageVersion } from '../config/build-info.js';
import { renderOpenApi } from './openapi.js';

const target = join(import.meta.dirname, '..', '..', 'docs', 'openapi.json');
writeFileSync(target, renderOpenApi(packageVersion()));
process.stdout.write(`wrote ${target}\n`);
