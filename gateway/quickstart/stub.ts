/**
 * The upstream stub, in the quickstart's process (README.md): the same `createStub` as
 * `npm run stub`, on 127.0.0.1, verifying every request's identity assertion against the
 * gateway's own JWKS, so a proxied call shows the identity an upstream would trust. The stub is a
 * dev tool outside gateway/: its factory is handed in by the entry point (bin/quickstart.cjs).
 */
import type { Config } from '../config/types.js';

/** upstream-stub/server.ts's `createStub`, as far as the quickstart uses it. */
export type StubFactory = (options: {
  readonly host: string;
  readonly port: number;
  readonly audience: string;
  readonly jwksUrl: () => string;
}) => Promise<{ readonly url: string; close(): Promise<void> }>;

export interface QuickstartStub {
  readonly url: string;
  /** The gateway's address once it listens; the stub fetches `<url>/.well-known/jwks.json` on first use. */
  setGatewayUrl(url: string): void;
  close(): Promise<void>;
}

/** Starts the stub on 127.0.0.1:`port` (0 = a free port) before the gateway, which needs its URL. */
export async function startQuickstartStub(
  createStub: StubFactory,
  options: { config: Config; port: number },
): Promise<QuickstartStub> {
  let gatewayUrl: string | null = null;
  const stub = await createStub({
    host: '127.0.0.1',
    port: options.port,
    audience: options.config.identity.audience,
    // Read at the first request, by which time the gateway listens (it sends the first request).
    jwksUrl: () => {
      if (gatewayUrl === null) throw new Error('quickstart stub: the gateway URL is not known yet');
      return `${gatewayUrl}/.well-known/jwks.json`;
    },
  }).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'EADDRINUSE')
      throw new Error(`port ${options.port} for the upstream stub is in use; set STUB_PORT to another port`);
    throw err;
  });
  return {
    url: stub.url,
    setGatewayUrl(url) {
      gatewayUrl = url;
    },
    close: () => stub.close(),
  };
}
