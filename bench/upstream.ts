/**
 * The minimal upstream every HTTP setup proxies to (direct, nginx, HAProxy, the gateway): a fixed
 * small JSON answer with keep-alive, and a WebSocket echo on any path. It does no work of its own,
 * so what the bench measures is the proxy hop. A path ending in `/echo` answers with the request
 * headers instead, which the bench uses once per setup to check that the identity headers really
 * arrived (a setup answering 401 quickly must never pass for a fast one).
 *
 * Run as a child process: `node dist/bench/upstream.js <port>`.
 */
import { createServer } from 'node:http';
import { WebSocketServer } from 'ws';

const port = Number(process.argv[2] ?? '0');
const BODY = Buffer.from(JSON.stringify({ status: 'success', data: { ok: true, service: 'bench-upstream' } }));

const server = createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
  const path = req.url ?? '/';
  const q = path.indexOf('?');
  const pathname = q === -1 ? path : path.slice(0, q);
  if (pathname.endsWith('/echo')) {
    const body = JSON.stringify({ method: req.method, url: req.url, headers: req.headers });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
    return;
  }
  // Drain any request body, then answer.
  req.resume();
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': BODY.length });
    res.end(BODY);
  });
});
server.maxConnections = 50_000;

const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
server.on('upgrade', (req, socket, head) => {
  wss.handleUpgrade(req, socket, head, (ws) => {
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
    ws.on('error', () => ws.terminate());
  });
});

server.listen(port, '127.0.0.1', () => {
  const address = server.address();
  process.stdout.write(`bench upstream listening on ${typeof address === 'object' && address ? address.port : port}\n`);
});

process.on('SIGTERM', () => {
  for (const ws of wss.clients) ws.terminate();
  server.closeAllConnections();
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2_000).unref();
});
