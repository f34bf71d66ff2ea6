/**
 * deploy/kubernetes, checked without a cluster: the base and the production overlay are rendered
 * with kustomize semantics (test/helpers/kustomize.ts), every object is validated against the
 * Kubernetes API schemas that kubernetes-models ships (types, required fields, formats; offline),
 * and the deployment invariants hold: ≥ 2 replicas, probes on /readyz and /healthz, a termination
 * grace above preStop + drain, non-root with a read-only root filesystem, a NetworkPolicy that lets
 * in only the ingress controller, and secrets as *_FILE paths the gateway's own config loader reads.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../gateway/config/index.js';
import { applyJson6902, KUBERNETES_DIR, render, strategicMerge, type K8sObject } from '../helpers/kustomize.js';

/* eslint-disable @typescript-eslint/no-unsafe-return -- rendered manifests are untyped JSON */
type Model = new (data: unknown) => { validate(): void };

/** The kubernetes-models class for an object: `apps/v1` + `Deployment` → kubernetes-models/apps/v1/Deployment. */
async function modelFor(o: K8sObject): Promise<Model> {
  const mod = (await import(`kubernetes-models/${o.apiVersion}/${o.kind}`)) as Record<string, Model>;
  const model = mod[o.kind];
  if (!model) throw new Error(`no model for ${o.apiVersion} ${o.kind}`);
  return model;
}

const rendered = {
  base: render(join(KUBERNETES_DIR, 'base')),
  production: render(join(KUBERNETES_DIR, 'overlays', 'production')),
};

function one(objects: K8sObject[], kind: string): any {
  const found = objects.filter((o) => o.kind === kind);
  expect(found, kind).toHaveLength(1);
  return found[0];
}

const preStopSeconds = (container: any): number => {
  const cmd = container.lifecycle?.preStop?.exec?.command as string[] | undefined;
  if (cmd?.[0] === 'sleep') return Number(cmd[1]);
  return Number(container.lifecycle?.preStop?.sleep?.seconds ?? 0);
};

describe.each(Object.entries(rendered))('deploy/kubernetes (%s)', (_name, objects) => {
  const deployment = one(objects, 'Deployment');
  const pod = deployment.spec.template.spec;
  const container = pod.containers.find((c: any) => c.name === 'gateway');
  const config = one(objects, 'ConfigMap').data as Record<string, string>;
  const podLabels = deployment.spec.template.metadata.labels as Record<string, string>;
  const selects = (selector: Record<string, string>) => Object.entries(selector).every(([k, v]) => podLabels[k] === v);

  it('validates every object against the Kubernetes API schemas', async () => {
    expect(objects.map((o) => o.kind).sort()).toEqual(
      expect.arrayContaining([
        'ConfigMap',
        'Deployment',
        'HorizontalPodAutoscaler',
        'NetworkPolicy',
        'PodDisruptionBudget',
        'Service',
        'ServiceAccount',
      ]),
    );
    for (const o of objects) {
      const Model = await modelFor(o);
      expect(() => new Model(o).validate(), `${o.kind}/${o.metadata.name}`).not.toThrow();
    }
    // The validation has teeth: a wrong type is refused.
    const Deployment = await modelFor(deployment);
    expect(() => new Deployment({ ...deployment, spec: { ...deployment.spec, replicas: 'two' } }).validate()).toThrow(
      /replicas/,
    );
  });

  it('runs at least two replicas, and the HPA, PDB, Service and NetworkPolicy select its pods', () => {
    expect(deployment.spec.replicas).toBeGreaterThanOrEqual(2);
    expect(deployment.spec.strategy.rollingUpdate.maxUnavailable).toBe(0);
    expect(selects(deployment.spec.selector.matchLabels)).toBe(true);
    const hpa = one(objects, 'HorizontalPodAutoscaler');
    expect(hpa.apiVersion).toBe('autoscaling/v2');
    expect(hpa.spec.minReplicas).toBeGreaterThanOrEqual(2);
    expect(hpa.spec.scaleTargetRef).toMatchObject({ kind: 'Deployment', name: deployment.metadata.name });
    const pdb = one(objects, 'PodDisruptionBudget');
    expect(selects(pdb.spec.selector.matchLabels)).toBe(true);
    expect(pdb.spec.maxUnavailable ?? hpa.spec.minReplicas - pdb.spec.minAvailable).toBeLessThan(hpa.spec.minReplicas);
    expect(selects(one(objects, 'Service').spec.selector)).toBe(true);
    expect(selects(one(objects, 'NetworkPolicy').spec.podSelector.matchLabels)).toBe(true);
    expect(pod.topologySpreadConstraints?.length ?? pod.affinity?.podAntiAffinity).toBeTruthy();
  });

  it('probes readiness on /readyz and liveness on /healthz, on the port the gateway listens on', () => {
    const http = container.ports.find((p: any) => p.name === 'http');
    expect(String(http.containerPort)).toBe(config.PORT);
    expect(container.readinessProbe.httpGet).toMatchObject({ path: '/readyz', port: 'http' });
    expect(container.livenessProbe.httpGet).toMatchObject({ path: '/healthz', port: 'http' });
    expect(container.startupProbe.httpGet).toMatchObject({ path: '/healthz', port: 'http' });
    expect(one(objects, 'Service').spec.ports[0].targetPort).toBe('http');
  });

  it('gives the drain time to finish: grace > preStop + SHUTDOWN_GRACE_SECONDS + the 10 s overrun exit', () => {
    const drain = Number(config.SHUTDOWN_GRACE_SECONDS);
    expect(drain).toBe(25);
    expect(preStopSeconds(container)).toBeGreaterThanOrEqual(5);
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(preStopSeconds(container) + drain + 10);
  });

  it('runs as non-root with a read-only root filesystem, no privilege escalation, no capabilities, seccomp', () => {
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
    expect(pod.securityContext.runAsUser).toBeGreaterThan(0);
    expect(container.securityContext).toMatchObject({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
    });
    expect(pod.automountServiceAccountToken).toBe(false);
    // Every mount has a volume; /tmp (the only writable path, GATEWAY_DATA_DIR's parent) is an emptyDir.
    const volumes = new Map<string, any>(pod.volumes.map((v: any) => [v.name, v]));
    for (const m of container.volumeMounts) expect(volumes.has(m.name), m.name).toBe(true);
    const tmp = container.volumeMounts.find((m: any) => m.mountPath === '/tmp');
    expect(volumes.get(tmp.name).emptyDir).toBeDefined();
    expect(config.GATEWAY_DATA_DIR).toMatch(/^\/tmp\//);
    for (const key of ['cpu', 'memory']) {
      expect(container.resources.requests[key], `requests.${key}`).toBeDefined();
      expect(container.resources.limits[key], `limits.${key}`).toBeDefined();
    }
  });

  it('lets in only the ingress controller and out only DNS, Postgres, Redis, upstreams and OTLP', () => {
    const policy = one(objects, 'NetworkPolicy');
    expect(policy.spec.policyTypes).toEqual(['Ingress', 'Egress']);
    expect(policy.spec.ingress).toHaveLength(1);
    const [rule] = policy.spec.ingress;
    expect(rule.from).toEqual([
      { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'ingress-nginx' } } },
    ]);
    expect(rule.ports).toEqual([{ protocol: 'TCP', port: 8080 }]);
    const ports = new Set<number>();
    for (const r of policy.spec.egress) {
      // No rule without a destination or without ports (either would open everything).
      expect(r.to?.length, JSON.stringify(r)).toBeGreaterThan(0);
      expect(r.ports?.length, JSON.stringify(r)).toBeGreaterThan(0);
      for (const p of r.ports) ports.add(p.port);
    }
    expect([...ports].sort((a, b) => a - b)).toEqual([53, 4318, 5432, 6379, 8080, 26379]);
  });

  it('passes secrets as *_FILE paths into the Secret volume, which the gateway config loads in production', () => {
    const mount = container.volumeMounts.find((m: any) => pod.volumes.find((v: any) => v.name === m.name)?.secret);
    expect(mount.readOnly).toBe(true);
    const files = (container.env as { name: string; value?: string; valueFrom?: unknown }[]).filter((e) =>
      e.name.endsWith('_FILE'),
    );
    expect(files.map((f) => f.name)).toEqual(
      expect.arrayContaining(['AUTH_JWT_SECRET_FILE', 'IDENTITY_SIGNING_KEY_FILE', 'DATABASE_URL_FILE']),
    );
    for (const f of files) expect(f.value?.startsWith(`${mount.mountPath}/`), f.name).toBe(true);
    // No secret as a plain value, in the env or the ConfigMap.
    const secretName = /SECRET|PASSWORD|TOKEN|SIGNING_KEY|DATABASE_URL/;
    for (const e of container.env) if (!e.name.endsWith('_FILE')) expect(e.name).not.toMatch(secretName);
    for (const key of Object.keys(config)) expect(key).not.toMatch(secretName);
    for (const value of Object.values(config)) expect(value).not.toMatch(/:\/\/[^/@\s]+:[^/@\s]+@/);

    // The Secret's files, made up here, with the ConfigMap and env: the gateway's loader accepts them.
    const dir = mkdtempSync(join(tmpdir(), 'g2d-k8s-'));
    try {
      const contents: Record<string, string> = {
        AUTH_JWT_SECRET_FILE: randomBytes(32).toString('hex'),
        IDENTITY_SIGNING_KEY_FILE: generateKeyPairSync('ed25519')
          .privateKey.export({ type: 'pkcs8', format: 'pem' })
          .toString(),
        DATABASE_URL_FILE: 'postgres://gateway:pw@postgres.get2dial-data.svc.cluster.local:5432/get2dial',
        REDIS_PASSWORD_FILE: 'redis-pw',
        REDIS_SENTINEL_PASSWORD_FILE: 'sentinel-pw',
      };
      const env: Record<string, string> = { ...config };
      for (const f of files) {
        const path = join(dir, f.name);
        writeFileSync(path, `${contents[f.name] ?? ''}\n`);
        env[f.name] = path;
      }
      const loaded = loadConfig(env);
      expect(loaded.production).toBe(true);
      expect(loaded.database.url).toBe(contents.DATABASE_URL_FILE);
      expect(loaded.redis.password).toBe('redis-pw');
      expect(loaded.shutdownGraceSeconds).toBe(25);
      expect(loaded.dataDir).toBe('/tmp/get2dial');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the production overlay', () => {
  const objects = rendered.production;
  const deployment = one(objects, 'Deployment');
  const config = one(objects, 'ConfigMap').data as Record<string, string>;

  it('puts everything in its namespace, pins the image and raises replicas and resources', () => {
    for (const o of objects) {
      if (o.kind === 'Namespace') expect(o.metadata.name).toBe('get2dial');
      else expect(o.metadata.namespace, `${o.kind}/${o.metadata.name}`).toBe('get2dial');
    }
    const [container] = deployment.spec.template.spec.containers;
    expect(container.image).toMatch(/^[a-z0-9.-]+\/.+:\d+\.\d+\.\d+$/);
    expect(deployment.spec.replicas).toBe(3);
    expect(one(objects, 'HorizontalPodAutoscaler').spec.minReplicas).toBe(3);
    expect(container.resources.limits.memory).toBe('768Mi');
    // Merged by name: the base's env and probes are still there.
    expect(container.env.map((e: any) => e.name)).toEqual([
      'AUTH_JWT_SECRET_FILE',
      'IDENTITY_SIGNING_KEY_FILE',
      'DATABASE_URL_FILE',
      'REDIS_PASSWORD_FILE',
      'REDIS_SENTINEL_PASSWORD_FILE',
    ]);
    expect(container.readinessProbe.httpGet.path).toBe('/readyz');
  });

  it('talks to Redis through Sentinel, and to a managed Postgres by address', () => {
    expect(config).not.toHaveProperty('REDIS_URL');
    expect(config.REDIS_SENTINELS?.split(',')).toHaveLength(3);
    expect(config.REDIS_SENTINEL_NAME).toBe('mymaster');
    const loaded = loadConfig(
      {
        ...config,
        AUTH_JWT_SECRET: randomBytes(32).toString('hex'),
        IDENTITY_SIGNING_KEY: 'k',
        DATABASE_URL: 'postgres://x@db/x',
      },
      { purpose: 'cli' },
    );
    expect(loaded.redis.sentinels).toHaveLength(3);
    const policy = one(objects, 'NetworkPolicy');
    expect(policy.spec.egress[1]).toEqual({
      to: [{ ipBlock: { cidr: '10.20.0.0/24' } }],
      ports: [{ protocol: 'TCP', port: 5432 }],
    });
  });
});

describe('the kustomize test renderer', () => {
  it('merges lists by their merge key, deletes on null, replaces other lists', () => {
    const base = {
      spec: { containers: [{ name: 'a', env: [{ name: 'X', value: '1' }], args: ['p'] }], keep: 1, drop: 2 },
    };
    const patch = {
      spec: { containers: [{ name: 'a', env: [{ name: 'Y', value: '2' }], args: ['q'] }, { name: 'b' }], drop: null },
    };
    expect(strategicMerge(base, patch)).toEqual({
      spec: {
        containers: [
          {
            name: 'a',
            env: [
              { name: 'X', value: '1' },
              { name: 'Y', value: '2' },
            ],
            args: ['q'],
          },
          { name: 'b' },
        ],
        keep: 1,
      },
    });
  });

  it('applies RFC 6902 add, replace and remove, and refuses a path that is not there', () => {
    const doc = { a: [1, 2], b: { 'c/d': 3 } };
    expect(
      applyJson6902(doc, [
        { op: 'add', path: '/a/-', value: 9 },
        { op: 'replace', path: '/b/c~1d', value: 4 },
        { op: 'remove', path: '/a/0' },
      ]),
    ).toEqual({ a: [2, 9], b: { 'c/d': 4 } });
    expect(doc.a).toEqual([1, 2]);
    expect(() => applyJson6902(doc, [{ op: 'replace', path: '/nope/0', value: 1 }])).toThrow(/does not exist/);
    expect(() => applyJson6902(doc, [{ op: 'replace', path: '/a/5', value: 1 }])).toThrow(/out of range/);
  });
});
