/**
 * A small kustomize renderer for the tests, so `kubectl apply -k` can be checked without kubectl:
 * `resources` (files and directories, recursively), strategic-merge `patches`, JSON 6902 `patches`
 * with a `target` (RFC 6902: add, replace, remove), `images` and `namespace`. Only what
 * deploy/kubernetes uses; any other kustomization field is refused rather than silently ignored.
 */
import { readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseAllDocuments } from 'yaml';

export type K8sObject = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [key: string]: unknown;
};
type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

interface Kustomization {
  resources?: string[];
  namespace?: string;
  images?: { name: string; newName?: string; newTag?: string }[];
  patches?: { path: string; target?: { group?: string; version?: string; kind?: string; name?: string } }[];
}

const SUPPORTED = new Set(['apiVersion', 'kind', 'resources', 'namespace', 'images', 'patches']);
const CLUSTER_SCOPED = new Set([
  'Namespace',
  'ClusterRole',
  'ClusterRoleBinding',
  'CustomResourceDefinition',
  'PriorityClass',
  'StorageClass',
]);

/**
 * The list keys strategic merge matches items by (from the Kubernetes API's patchMergeKey);
 * any other list is replaced whole, as kustomize does for lists without a merge key.
 */
const MERGE_KEYS: Record<string, string> = {
  containers: 'name',
  initContainers: 'name',
  env: 'name',
  volumes: 'name',
  volumeMounts: 'mountPath',
  ports: 'containerPort',
};

function loadYaml(path: string): Json[] {
  return parseAllDocuments(readFileSync(path, 'utf8'), { merge: false })
    .map((doc) => {
      if (doc.errors.length > 0) throw new Error(`${path}: ${doc.errors[0]?.message}`);
      return doc.toJS() as Json;
    })
    .filter((d) => d !== null);
}

/** Renders the kustomization in `dir` to its list of objects, as `kubectl kustomize dir` would. */
export function render(dir: string): K8sObject[] {
  const [k] = loadYaml(join(dir, 'kustomization.yaml')) as [Kustomization & Record<string, unknown>];
  for (const field of Object.keys(k))
    if (!SUPPORTED.has(field))
      throw new Error(`${dir}: kustomization field ${field} is not supported by this renderer`);
  let objects: K8sObject[] = [];
  for (const resource of k.resources ?? []) {
    const path = join(dir, resource);
    objects.push(...(statSync(path).isDirectory() ? render(path) : (loadYaml(path) as K8sObject[])));
  }
  for (const patch of k.patches ?? []) {
    const path = join(dir, patch.path);
    const [doc] = loadYaml(path);
    if (patch.target) {
      const t = patch.target;
      const hits = objects.filter(
        (o) =>
          (t.kind === undefined || o.kind === t.kind) &&
          (t.name === undefined || o.metadata.name === t.name) &&
          (t.version === undefined || o.apiVersion.endsWith(`/${t.version}`) || o.apiVersion === t.version) &&
          (t.group === undefined || o.apiVersion.startsWith(`${t.group}/`)),
      );
      if (hits.length === 0) throw new Error(`${path}: the target matches no object`);
      objects = objects.map((o) =>
        hits.includes(o) ? (applyJson6902(o as unknown as JsonObject, doc as Json[]) as unknown as K8sObject) : o,
      );
    } else {
      const p = doc as unknown as K8sObject;
      const i = objects.findIndex((o) => o.kind === p.kind && o.metadata.name === p.metadata.name);
      if (i === -1) throw new Error(`${path}: no ${p.kind} named ${p.metadata.name} to patch`);
      objects[i] = strategicMerge(objects[i], p) as unknown as K8sObject;
    }
  }
  for (const image of k.images ?? []) objects = objects.map((o) => setImage(o, image));
  if (k.namespace !== undefined) {
    const ns = k.namespace;
    objects = objects.map((o) =>
      CLUSTER_SCOPED.has(o.kind) ? o : { ...o, metadata: { ...o.metadata, namespace: ns } },
    );
  }
  return objects;
}

/** Strategic merge patch: maps merge, `null` deletes a key, lists with a merge key merge by it. */
export function strategicMerge(target: unknown, patch: unknown, key?: string): Json {
  return merge(target as Json, patch as Json, key);
}

function merge(target: Json, patch: Json, key?: string): Json {
  if (isObject(target) && isObject(patch)) {
    const out: JsonObject = { ...target };
    for (const [k, v] of Object.entries(patch)) {
      if (v === null) delete out[k];
      else out[k] = k in out ? merge(out[k] as Json, v, k) : v;
    }
    return out;
  }
  const mergeKey = key === undefined ? undefined : MERGE_KEYS[key];
  if (Array.isArray(target) && Array.isArray(patch) && mergeKey !== undefined) {
    const out = [...target];
    for (const item of patch) {
      const id = isObject(item) ? item[mergeKey] : undefined;
      const i = out.findIndex((o) => isObject(o) && id !== undefined && o[mergeKey] === id);
      if (i === -1) out.push(item);
      else out[i] = merge(out[i] as Json, item);
    }
    return out;
  }
  return patch;
}

/** RFC 6902 `add`, `replace` and `remove` with RFC 6901 pointers; returns a patched copy. */
export function applyJson6902(doc: object, ops: readonly unknown[]): JsonObject {
  const out = structuredClone(doc) as JsonObject;
  for (const raw of ops) {
    const op = raw as { op: string; path: string; value?: Json };
    const tokens = op.path
      .split('/')
      .slice(1)
      .map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
    const last = tokens.pop();
    if (last === undefined) throw new Error(`json6902: cannot ${op.op} the whole document`);
    let parent: Json = out;
    for (const t of tokens) {
      parent = Array.isArray(parent) ? (parent[Number(t)] as Json) : isObject(parent) ? (parent[t] as Json) : null;
      if (parent === undefined || parent === null) throw new Error(`json6902: ${op.path} does not exist`);
    }
    if (Array.isArray(parent)) {
      const index = last === '-' ? parent.length : Number(last);
      if (!Number.isInteger(index) || index < 0 || index > parent.length || (op.op !== 'add' && index >= parent.length))
        throw new Error(`json6902: ${op.path} is out of range`);
      if (op.op === 'add') parent.splice(index, 0, op.value as Json);
      else if (op.op === 'replace') parent[index] = op.value as Json;
      else if (op.op === 'remove') parent.splice(index, 1);
      else throw new Error(`json6902: op ${op.op} is not supported`);
    } else if (isObject(parent)) {
      if (op.op !== 'add' && !(last in parent)) throw new Error(`json6902: ${op.path} does not exist`);
      if (op.op === 'add' || op.op === 'replace') parent[last] = op.value as Json;
      else if (op.op === 'remove') delete parent[last];
      else throw new Error(`json6902: op ${op.op} is not supported`);
    } else throw new Error(`json6902: ${op.path} does not exist`);
  }
  return out;
}

/** kustomize `images`: rewrites the name and tag of every container image called `name`. */
function setImage(o: K8sObject, image: { name: string; newName?: string; newTag?: string }): K8sObject {
  const spec = (
    o.spec as
      { template?: { spec?: { containers?: { image?: string }[]; initContainers?: { image?: string }[] } } } | undefined
  )?.template?.spec;
  if (!spec) return o;
  const copy = structuredClone(o);
  const podSpec = (copy.spec as { template: { spec: typeof spec } }).template.spec;
  for (const c of [...(podSpec.containers ?? []), ...(podSpec.initContainers ?? [])]) {
    const m = /^([^:@]+(?::\d+\/[^:@]+)?)(?::([^@]+))?(@.+)?$/.exec(c.image ?? '');
    if (!m || m[1] !== image.name) continue;
    c.image = `${image.newName ?? image.name}:${image.newTag ?? m[2] ?? 'latest'}`;
  }
  return copy;
}

function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The directory of deploy/kubernetes in this repository. */
export const KUBERNETES_DIR = join(dirname(import.meta.dirname), '..', 'deploy', 'kubernetes');
