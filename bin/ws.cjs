#!/usr/bin/env node
// `npm run ws -- <path or ws:// URL> [token]`: a tiny WebSocket client for trying the gateway.
// Prints every frame it receives on stdout, sends each line of stdin as a text frame, and closes
// (code 1000) once stdin ends and the replies have arrived. A path is resolved against
// ws://127.0.0.1:$PORT (default 8080); a token rides in `?token=`, as a browser sends it.
// Status lines (connected, closed, refused) go to stderr, so stdout holds only frames.
const { createInterface } = require('node:readline');
const WebSocket = require('ws');
const { URL } = require('node:url');
const { setTimeout, clearTimeout } = require('node:timers');

const [target, token] = process.argv.slice(2);
if (!target || target === '--help' || target === '-h') {
  process.stderr.write(
    'usage: npm run ws -- <path | ws://host:port/path> [token]\n  e.g. npm run -s ws -- /ws/agent "$TOKEN"\n',
  );
  process.exit(2);
}
const url = new URL(
  /^wss?:\/\//.test(target)
    ? target
    : `ws://127.0.0.1:${process.env.PORT || 8080}${target.startsWith('/') ? '' : '/'}${target}`,
);
if (token) url.searchParams.set('token', token);

const ws = new WebSocket(url);
let sent = 0;
let received = 0;
let inputDone = false;
let closeTimer = null;

function maybeClose() {
  if (!inputDone) return;
  if (received >= sent) return ws.close(1000);
  // Replies still due: give them up to 2 s.
  closeTimer ??= setTimeout(() => ws.close(1000), 2000);
}

ws.on('unexpected-response', (_req, res) => {
  let body = '';
  res.on('data', (d) => (body += d));
  res.on('end', () => {
    process.stderr.write(`refused: HTTP ${res.statusCode} ${body.trim()}\n`);
    process.exit(1);
  });
});
ws.on('error', (err) => {
  process.stderr.write(`error: ${err.message}\n`);
  process.exit(1);
});
ws.on('open', () => {
  process.stderr.write(`connected to ${url.origin}${url.pathname}\n`);
  const rl = createInterface({ input: process.stdin });
  rl.on('line', (line) => {
    sent++;
    ws.send(line);
  });
  rl.on('close', () => {
    inputDone = true;
    maybeClose();
  });
});
ws.on('message', (data, isBinary) => {
  received++;
  process.stdout.write(isBinary ? `<binary frame, ${data.length} bytes>\n` : `${data.toString()}\n`);
  maybeClose();
});
ws.on('close', (code, reason) => {
  if (closeTimer) clearTimeout(closeTimer);
  process.stderr.write(`closed: ${code}${reason.length ? ` ${reason}` : ''}\n`);
  process.exit(code === 1000 || code === 1005 ? 0 : 1);
});
