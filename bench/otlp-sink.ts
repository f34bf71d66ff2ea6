/**
 * A local OTLP/HTTP traces receiver for the tracing-cost scenario (BENCH_TRACING=1,
 * docs/benchmark.md): accepts POST /v1/traces, reads and drops the body, answers 200. It decodes
 * nothing, so what the bench charges to tracing is the gateway's side: span creation, batching,
 * serialization and the export requests. On SIGTERM it prints how many exports and bytes it took.
 *
 * Run as a child process: `node dist/bench/otlp-sink.js <port>`.
 */
import { createServer } from 'node:http';

const port = Number(process.argv[2] ?? '0');
let exports = 0;
let bytes = 0;

const server = createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
  req.on('data', (chunk: Buffer) => (bytes += chunk.length));
  req.on('end', () => {
    if (req.method === 'POST' && req.url === '/v1/traces') {
      exports++;
      res.writeHead(200, {
        'content-type': req.headers['content-type'] ?? 'application/x-protobuf',
        'content-length': 0,
      });
    } else res.writeHead(404, { 'content-length': 0 });
    res.end();
  });
});

server.listen(port, '127.0.0.1', () => {
  const address = server.address();
  process.stdout.write(
    `bench otlp sink listening on ${typeof address === 'object' && address ? address.port : port}\n`,
  );
});

process.on('SIGTERM', () => {
  process.stdout.write(`otlp sink: ${exports} exports, ${(bytes / 1048576).toFixed(1)} MiB\n`);
  server.closeAllConnections();
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2_000).unref();
});
