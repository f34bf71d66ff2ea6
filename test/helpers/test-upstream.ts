/**
 * A tiny upstream for fault and drain drills, on a real loopback port: answers at once, after a
 * delay, never, or dies mid-body, records the headers it received (to follow `traceparent`), and
 * echoes WebSocket messages. It can be stopped and started again on the same port. Paths:
 * `…/ok`, `…/wait?ms=N`, `…/stall`, `…/die`; anything else answers 200 like `…/ok`.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { WebSocketServer } from 'ws';

export interface TestUpstream {
  readonly port: number;
  readonly url: string;
  /** Every HTTP request received, newest last; `url` is the request-target as it arrived. */
  readonly received: { path: string; url: string; headers: IncomingHttpHeaders }[];
  /** Every WebSocket handshake accepted, newest last, likewise. */
  readonly upgrades: { path: string; url: string; headers: IncomingHttpHeaders }[];
  /** Close codes the upstream saw on its WebSocket side. */
  readonly wsCloses: number[];
  stop(): Promise<void>;
  start(): Promise<void>;
}

export async function startTestUpstream(): Promise<TestUpstream> {
  const received: TestUpstream['received'] = [];
  const upgrades: TestUpstream['upgrades'] = [];
  const wsCloses: number[] = [];
  const sockets = new Set<Socket>();
  let server: Server | null = null;
  let wss: WebSocketServer | null = null;
  let port = 0;

  const listen = () =>
    new Promise<void>((resolve, reject) => {
      const srv = createServer((req, res) => {
        const url = new URL(req.url ?? '/', 'http://upstream');
        received.push({ path: url.pathname, url: req.url ?? '', headers: req.headers });
        req.resume();
        const answer = () => {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ ok: true, path: url.pathname }));
        };
        if (url.pathname.endsWith('/stall')) return; // never answers
        if (url.pathname.endsWith('/die')) {
          res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '1000' });
          res.write('partial');
          setTimeout(() => req.socket.destroy(), 50);
          return;
        }
        if (url.pathname.endsWith('/wait')) {
          setTimeout(answer, Number(url.searchParams.get('ms') ?? '1000'));
          return;
        }
        answer();
      });
      srv.on('connection', (s: Socket) => {
        sockets.add(s);
        s.on('close', () => sockets.delete(s));
      });
      const ws = new WebSocketServer({ server: srv });
      ws.on('connection', (socket, req) => {
        upgrades.push({
          path: new URL(req.url ?? '/', 'http://upstream').pathname,
          url: req.url ?? '',
          headers: req.headers,
        });
        socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }));
        socket.on('close', (code) => wsCloses.push(code));
      });
      srv.once('error', reject);
      srv.listen(port, '127.0.0.1', () => {
        port = (srv.address() as { port: number }).port;
        server = srv;
        wss = ws;
        resolve();
      });
    });

  await listen();
  return {
    get port() {
      return port;
    },
    get url() {
      return `http://127.0.0.1:${port}`;
    },
    received,
    upgrades,
    wsCloses,
    async stop() {
      const srv = server;
      server = null;
      for (const c of wss?.clients ?? []) c.terminate();
      wss?.close();
      for (const s of sockets) s.destroy();
      if (srv) await new Promise<void>((resolve) => srv.close(() => resolve()));
    },
    start: () => (server ? Promise.resolve() : listen()),
  };
}
