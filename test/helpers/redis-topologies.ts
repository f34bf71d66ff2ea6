/**
 * Real Redis Cluster and Sentinel deployments made of private `redis-server` processes, so the
 * gateway's REDIS_CLUSTER_NODES and REDIS_SENTINELS paths (docs/scale-out.md) are tested against the real
 * protocols: slot routing and CROSSSLOT rules, master discovery through a sentinel.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startRedisServer, type RedisServerProcess } from './redis-server.js';

const run = promisify(execFile);
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export interface RedisDeployment {
  /** `host:port,host:port` as the gateway's REDIS_CLUSTER_NODES / REDIS_SENTINELS take it. */
  readonly nodes: string;
  stop(): Promise<void>;
}

/** Three masters, no replicas, every slot assigned; resolves once `cluster_state:ok` on all. */
export async function startRedisCluster(masters = 3): Promise<RedisDeployment> {
  const dir = mkdtempSync(join(tmpdir(), 'g2d-cluster-'));
  const servers: RedisServerProcess[] = [];
  const stop = async () => {
    await Promise.allSettled(servers.map((s) => s.kill()));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < masters; i++) {
      servers.push(
        await startRedisServer({
          args: [
            '--cluster-enabled',
            'yes',
            '--cluster-config-file',
            join(dir, `nodes-${i}.conf`),
            '--cluster-node-timeout',
            '2000',
            '--dir',
            dir,
          ],
        }),
      );
    }
    const addrs = servers.map((s) => `127.0.0.1:${s.port}`);
    await run('redis-cli', ['--cluster', 'create', ...addrs, '--cluster-replicas', '0', '--cluster-yes']);
    const deadline = Date.now() + 15_000;
    for (const s of servers) {
      for (;;) {
        const { stdout } = await run('redis-cli', ['-p', String(s.port), 'cluster', 'info']);
        if (stdout.includes('cluster_state:ok')) break;
        if (Date.now() > deadline) throw new Error(`cluster not ok on ${s.port}:\n${stdout}`);
        await sleep(100);
      }
    }
    return { nodes: addrs.join(','), stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/**
 * One master and one sentinel watching it as `name`, the sentinel protected by `sentinelPassword`
 * when given; resolves once the sentinel knows the master.
 */
export async function startRedisSentinel(
  name: string,
  sentinelPassword?: string,
): Promise<RedisDeployment & { readonly masterPort: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'g2d-sentinel-'));
  const servers: RedisServerProcess[] = [];
  const stop = async () => {
    await Promise.allSettled(servers.map((s) => s.kill()));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const master = await startRedisServer();
    servers.push(master);
    // Sentinel rewrites its config file, so it gets a private, writable one.
    const configFile = join(dir, 'sentinel.conf');
    const auth = sentinelPassword ? `requirepass ${sentinelPassword}\n` : '';
    writeFileSync(
      configFile,
      `${auth}sentinel monitor ${name} 127.0.0.1 ${master.port} 1\nsentinel down-after-milliseconds ${name} 5000\n`,
    );
    const sentinel = await startRedisServer({ configFile, args: ['--sentinel', '--dir', dir] });
    servers.push(sentinel);
    const deadline = Date.now() + 10_000;
    for (;;) {
      const { stdout } = await run('redis-cli', [
        '-p',
        String(sentinel.port),
        ...(sentinelPassword ? ['--no-auth-warning', '-a', sentinelPassword] : []),
        'sentinel',
        'get-master-addr-by-name',
        name,
      ]);
      if (stdout.includes(String(master.port))) break;
      if (Date.now() > deadline) throw new Error(`sentinel does not know ${name}:\n${stdout}`);
      await sleep(100);
    }
    return { nodes: `127.0.0.1:${sentinel.port}`, masterPort: master.port, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
