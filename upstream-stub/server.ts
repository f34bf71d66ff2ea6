/**
 * The upstream stub (`npm run stub`; docs/upstream-integration.md): an echo server that trusts nothing it cannot
 * verify. Every HTTP request and WebSocket upgrade goes through the package's own verifier
 * (`createIdentityVerifier`); unsigned or mismatched traffic gets 401. Special paths, matched by
 * suffix so they work under any route prefix, serve the streaming, timeout and status tests.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { JWK } from 'jose';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import {
  createIdentityVerifier,
  IdentityVerificationError,
  type IdentityVerifier,
  type VerifiedIdentity,
} from '@get2dial/identity-verifier';
import { pseudoRandomDigest, pseudoRandomStream } from './random.js';

export interface StubOptions {
  readonly port?: number;
  readonly host?: string;
  /** The gateway's JWKS URL; a function is read at the first request (the gateway may start later). */
  readonly jwksUrl?: string | (() => string);
  readonly keys?: readonly (JWK | string)[];
  readonly audience: string;
}

export interface Stub {
  readonly server: Server;
  readonly url: string;
  /** The request-targets the stub received, oldest first (tests assert what reached the upstream). */
  readonly received: string[];
  close(): Promise<void>;
}

const MAX_DOWNLOAD = 8 * 1024 ** 3;
const MAX_SLOW_MS = 10 * 60_000;

/** Starts the stub; resolves once it listens. */
export async function createStub(options: StubOptions): Promise<Stub> {
  let verifier: IdentityVerifier | null = null;
  const getVerifier = (): IdentityVerifier => {
    if (verifier) return verifier;
    if (options.keys) verifier = createIdentityVerifier({ keys: options.keys }, { audience: options.audience });
    else if (options.jwksUrl) {
      const url = typeof options.jwksUrl === 'function' ? options.jwksUrl() : options.jwksUrl;
      verifier = createIdentityVerifier({ jwksUrl: url }, { audience: options.audience });
    } else throw new Error('createStub: jwksUrl or keys is required');
    return verifier;
  };
  const received: string[] = [];
  const digests = new Map<string, Promise<string>>();
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });

  const server = createServer((req, res) => {
    received.push(req.url ?? '');
    if (received.length > 10_000) received.shift();
    void handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) json(res, 500, { status: 'error', message: err instanceof Error ? err.message : 'error' });
      else res.destroy();
    });
  });

  async function identify(req: IncomingMessage): Promise<{ identity: VerifiedIdentity } | { status: number }> {
    try {
      return { identity: await getVerifier().verify(req.headers) };
    } catch (err) {
      // A JWKS that cannot be fetched is "cannot verify now" (503), not "forged" (401).
      return { status: err instanceof IdentityVerificationError && err.code === 'jwks' ? 503 : 401 };
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const target = req.url ?? '/';
    const q = target.indexOf('?');
    const path = q === -1 ? target : target.slice(0, q);
    const query = q === -1 ? '' : target.slice(q + 1);
    const params = new URLSearchParams(query);
    const who = await identify(req);
    if ('status' in who) {
      req.resume();
      json(res, who.status, {
        status: 'error',
        message: who.status === 503 ? 'identity keys unavailable' : 'unsigned or invalid identity',
      });
      return;
    }
    const { identity } = who;

    if (path.endsWith('/stream/upload')) {
      const hash = createHash('sha256');
      let bytes = 0;
      for await (const chunk of req as AsyncIterable<Buffer>) {
        bytes += chunk.length;
        hash.update(chunk);
      }
      json(res, 200, { status: 'success', data: { bytes, sha256: hash.digest('hex') } });
      return;
    }
    req.resume();
    if (path.endsWith('/stream/download')) {
      const bytes = Number(params.get('bytes') ?? '0');
      const seed = params.get('seed') ?? 'g2d';
      if (!Number.isSafeInteger(bytes) || bytes < 0 || bytes > MAX_DOWNLOAD) {
        json(res, 400, { status: 'error', message: 'bytes must be 0..8 GiB' });
        return;
      }
      const key = `${seed}\n${bytes}`;
      let digest = digests.get(key);
      if (!digest) {
        digest = pseudoRandomDigest(seed, bytes);
        digests.set(key, digest);
        if (digests.size > 16) digests.delete(digests.keys().next().value as string);
      }
      res.statusCode = 200;
      res.setHeader('Content-Type', 'application/octet-stream');
      res.setHeader('X-Content-SHA256', await digest);
      if (params.get('chunked') !== '1') res.setHeader('Content-Length', String(bytes));
      if (req.method === 'HEAD') {
        res.end();
        return;
      }
      await pipeline(pseudoRandomStream(seed, bytes), res);
      return;
    }
    if (path.endsWith('/slow')) {
      const ms = Math.min(MAX_SLOW_MS, Number(params.get('ms') ?? '1000') || 0);
      if (params.get('stage') === 'body') {
        // Headers now, body later: exercises the body-idle timeout after headers went out.
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.write('{"status":"success",');
        await sleep(ms, res);
        res.end('"data":{"slow":true}}');
        return;
      }
      await sleep(ms, res);
      json(res, 200, { status: 'success', data: { slept: ms } });
      return;
    }
    const statusMatch = /\/status\/(\d{3})$/.exec(path);
    if (statusMatch) {
      const status = Number(statusMatch[1]);
      if (status < 200 || status > 599) {
        json(res, 400, { status: 'error', message: 'status must be 200..599' });
        return;
      }
      if (status === 204 || status === 304) {
        res.writeHead(status, { ETag: '"stub"', 'Cache-Control': 'max-age=0' });
        res.end();
        return;
      }
      json(
        res,
        status,
        status < 400 ? { status: 'success', data: { status } } : { status: 'error', message: `status ${status}` },
      );
      return;
    }
    json(res, 200, { status: 'success', data: { identity, method: req.method, path, query, headers: req.headers } });
  }

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    received.push(req.url ?? '');
    socket.on('error', () => socket.destroy());
    void identify(req).then((who) => {
      if ('status' in who) {
        const body = JSON.stringify({ status: 'error', message: 'unsigned or invalid identity' });
        socket.end(
          `HTTP/1.1 ${who.status} Unauthorized\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
        );
        return;
      }
      wss.handleUpgrade(req, socket, head, (ws) => echo(ws, req, who.identity));
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    server,
    url: `http://${host}:${address.port}`,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        for (const ws of wss.clients) ws.terminate();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Echoes every frame with its type; `whoami` answers the identity; `close CODE REASON` closes with that code. */
function echo(ws: WebSocket, req: IncomingMessage, identity: VerifiedIdentity): void {
  ws.on('error', () => ws.terminate());
  ws.on('message', (data: RawData, isBinary: boolean) => {
    if (!isBinary) {
      const text = (data as Buffer).toString('utf8');
      if (text === 'whoami') {
        ws.send(JSON.stringify({ identity, url: req.url, protocol: ws.protocol, headers: req.headers }));
        return;
      }
      const close = /^close (\d{4})(?: (.*))?$/.exec(text);
      if (close) {
        ws.close(Number(close[1]), close[2] ?? '');
        return;
      }
    }
    ws.send(data, { binary: isBinary });
  });
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const payload = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(payload),
  });
  res.end(payload);
}

function sleep(ms: number, res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    res.once('close', () => {
      clearTimeout(t);
      resolve();
    });
  });
}
