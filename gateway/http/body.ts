import type { IncomingMessage } from 'node:http';
import type { Static, TObject } from 'typebox';
import { Compile, type Validator } from 'typebox/compile';
import { GatewayError } from '../errors.js';
import { awaitingContinue, sendContinue } from './expect-continue.js';

export const MAX_JSON_BODY_BYTES = 1024 * 1024;

/** Strict: invalid UTF-8 throws instead of becoming U+FFFD. */
const UTF8 = new TextDecoder('utf-8', { fatal: true });

/** A request body schema: a TypeBox object (JSON Schema), `additionalProperties: false`. */
export type BodySchema = TObject;

/**
 * The value a route gets: the schema's static type, with optional fields sent as `null` removed
 * (a client may spell "absent" as `null`; a required field is never `null`).
 */
export type BodyOf<S extends BodySchema> = { [K in keyof Static<S>]: Exclude<Static<S>[K], null> };

/** One compiled validator per schema, built on first use (TypeBox compiles to a plain function). */
const compiled = new WeakMap<BodySchema, Validator>();

function validatorOf(schema: BodySchema): Validator {
  let v = compiled.get(schema);
  if (v === undefined) {
    v = Compile(schema);
    compiled.set(schema, v);
  }
  return v;
}

/**
 * Reads a JSON request body (docs/api.md): `Content-Type` must be JSON and the body not content-coded
 * (415: a gzip body is not JSON, RFC 9110 §8.4), at most 1 MB (413, counted while streaming so a
 * lying Content-Length cannot get past), well-formed UTF-8 (RFC 8259 §8.1; lossy decoding would
 * let distinct byte strings compare equal), an object valid against `schema` — exactly the
 * documented fields, of the documented types and lengths — with no NUL in any string (400
 * `invalid request body`). The same schema is published in the OpenAPI document (docs/api.md).
 */
export async function readJsonBody<S extends BodySchema>(
  req: IncomingMessage,
  schema: S,
  maxBytes = MAX_JSON_BODY_BYTES,
): Promise<BodyOf<S>> {
  const type = req.headers['content-type'];
  const coding = req.headers['content-encoding'];
  if (
    !type ||
    !/^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i.test(type) ||
    (coding !== undefined && coding.trim().toLowerCase() !== 'identity')
  ) {
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
  return checkBody(value, schema);
}

/** Validates an already-parsed value against `schema`; any mismatch is 400 `invalid request body`. */
export function checkBody<S extends BodySchema>(value: unknown, schema: S): BodyOf<S> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new GatewayError('INVALID_BODY', { detail: 'body is not an object' });
  }
  const validator = validatorOf(schema);
  if (!validator.Check(value)) {
    // The first error only, for the log: the client always sees the one table message.
    const [first] = validator.Errors(value);
    throw new GatewayError('INVALID_BODY', {
      detail: first ? `${first.instancePath || '/'}: ${first.message}` : 'does not match the schema',
    });
  }
  const obj = value as Record<string, unknown>;
  for (const [key, v] of Object.entries(obj)) {
    if (v === null) delete obj[key];
    // No credential, name or domain holds U+0000, and Postgres text cannot store it: refused here
    // as bad input rather than failing in the database as a 500.
    else if (typeof v === 'string' && v.includes('\u0000'))
      throw new GatewayError('INVALID_BODY', { detail: `field ${key} contains NUL` });
  }
  return obj as BodyOf<S>;
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
