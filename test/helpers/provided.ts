/** Values the global setup provides to every test file (`inject('databaseUrl')`). */
import type {} from 'vitest';

declare module 'vitest' {
  export interface ProvidedContext {
    databaseUrl: string;
    postgresAdminUrl: string;
    redisUrl: string;
    redisPrefix: string;
  }
}
