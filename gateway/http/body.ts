import type { IncomingMessage } from 'node:http';
import { GatewayError } from '../errors.js';
import { awaitingContinue, sendContinue } from './expect-continue.js';

export const MAX_JSON_BODY_BYTES = 1024 * 1024;

/** Strict: invalid UTF-8 throws instead of becoming U+FFFD. */
const UTF8 = new TextDecoder('utf-8', { fatal: true });

/** A field's expected JSON type; `?` suffix marks it optional. */
export type FieldSpec = Record<string, 'string' | 'string?' | 'boolean' | 'boolean?'>;

type Parsed<S extends FieldSpec> = {
  [K in keyof S as S[K] extends `${string}?` ? never : K]: S[K] extends 'string' ? string : boolean;
} & {
  [K in keyof S as S[K] extends `${string}?` ? K : never]?: S[K] extends 'string?' ? string : boolean;
};

/**
 * Reads a JSON request body (docs/api.md): `Content-Type` must be JSON and the body not content-coded
 * (415: a gzip body is not JSON, RFC 9110 §8.4), at most 1 MB (413, counted while streaming so a
 * lying Content-Length cannot get past), well-formed UTF-8 (RFC 8259 §8.1; lossy decoding would
 * let distinct byte strings compare equal), an object, with exactly the documented fields of the
 * documented types (400 `invalid request body`).
 */
export async function readJsonBody<S extends FieldSpec>(req: IncomingMessage, spec: S, maxBytes = MAX_JSON_BODY_BYTES): Promise<Parsed<S>> {
  const type = req.headers['content-type'];
  const coding = req.headers['content-encoding'];
  if (!type || !/^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i.test(type) || (coding !== undefined && coding.trim().toLowerCase() !== 'identity')) {
    // A client still waiting for `100 Continue` sends no body: nothing to drain (the connection closes).
    if (!awaitingContinue(req)) await drain(req, maxBytes);
    throw new GatewayError('UNSUPPORTED_MEDIA_TYPE');
  }
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > maxBytes) {
    req.resume();
    throw new GatewayError('BODY_TOO_LARGE');
  }
  // The body is wanted now: a client that sent `Expect: 100-continue` gets its go-ahead here.
  sendContinue(req);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) {
      req.resume();
      throw new GatewayError('BODY_TOO_LARGE');
    }
    chunks.push(chunk);
  }
  let value: unknown;
  try {
    value = JSON.parse(UTF8.decode(Buffer.concat(chunks)));
  } catch {
    throw new GatewayError('INVALID_BODY', { detail: 'malformed JSON or not UTF-8' });
  }
  return checkFields(value, spec);
}

/** Validates an already-parsed value against `spec`; unknown fields and wrong types are 400. */
export function checkFields<S extends FieldSpec>(value: unknown, spec: S): Parsed<S> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new GatewayError('INVALID_BODY', { detail: 'body is not an object' });
  }
  const obj = value as Record<string, unknown>;
  for (const key of Object.keys(obj)) {
    if (!Object.prototype.hasOwnProperty.call(spec, key)) throw new GatewayError('INVALID_BODY', { detail: `unknown field ${key}` });
  }
  for (const [key, want] of Object.entries(spec)) {
    const optional = want.endsWith('?');
    const type = optional ? want.slice(0, -1) : want;
    const v = obj[key];
    if (v === undefined || (optional && v === null)) {
      if (!optional) throw new GatewayError('INVALID_BODY', { detail: `missing field ${key}` });
      delete obj[key];
      continue;
    }
    if (typeof v !== type) throw new GatewayError('INVALID_BODY', { detail: `field ${key} must be a ${type}` });
    // No credential, name or domain holds U+0000, and Postgres text cannot store it: refused here
    // as bad input rather than failing in the database as a 500.
    if (typeof v === 'string' && v.includes('\u0000')) throw new GatewayError('INVALID_BODY', { detail: `field ${key} contains NUL` });
  }
  return obj as Parsed<S>;
}

/** Discards a body we will not read, up to a cap, so keep-alive connections stay usable. */
async function drain(req: IncomingMessage, maxBytes: number): Promise<void> {
  let size = 0;
  try {
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > maxBytes) break;
    }
  } catch {
    // The client went away; nothing to drain.
  }
}
