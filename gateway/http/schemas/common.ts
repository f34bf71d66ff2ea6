/**
 * Building blocks of the gateway's API schemas (docs/api.md): the success and error envelopes, the
 * user object, timestamps, and the shape in which each area module describes its operations. The
 * same TypeBox values validate request bodies (http/body.ts) and make the OpenAPI document
 * (http/openapi.ts), so the document cannot drift from what the gateway accepts.
 */
import { Type, type TObject, type TSchema } from 'typebox';
import type { ErrorCode } from '../../errors.js';
import { ROLES } from '../../config/types.js';

/** An optional body field; `null` counts as absent (http/body.ts removes it). */
export const Optional = <T extends TSchema>(schema: T) => Type.Optional(Type.Union([schema, Type.Null()]));

/** A request body: exactly these fields (an unknown one is 400 `invalid request body`). */
export const Body = <P extends Parameters<typeof Type.Object>[0]>(properties: P, description: string) =>
  Type.Object(properties, { additionalProperties: false, description });

/** RFC 3339 UTC with whole seconds, as every timestamp the gateway writes (`2026-01-01T00:00:00Z`). */
export const Timestamp = Type.String({ format: 'date-time', pattern: '^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ$' });

export const Uuid = Type.String({ format: 'uuid' });

/** The public user object (never the password hash). */
export const User = Type.Object(
  {
    id: Uuid,
    tenant_id: Uuid,
    email: Type.String(),
    role: Type.Union(ROLES.map((r) => Type.Literal(r))),
    status: Type.Union([Type.Literal('active'), Type.Literal('disabled')]),
    must_change_password: Type.Boolean(),
    created_at: Timestamp,
    updated_at: Timestamp,
  },
  { additionalProperties: false },
);

/** `{"status":"success","data":…}`. */
export const Success = <T extends TSchema>(data: T) =>
  Type.Object({ status: Type.Literal('success'), data }, { additionalProperties: false });

/** `{"status":"error","message":…}`; `messages` lists the exact strings when they are fixed. */
export const ErrorEnvelope = (messages?: readonly string[]) =>
  Type.Object(
    {
      status: Type.Literal('error'),
      message: messages && messages.length > 0 ? Type.Union(messages.map((m) => Type.Literal(m))) : Type.String(),
    },
    { additionalProperties: false },
  );

/** Who may call an operation: a user's access token, a node key, the bootstrap token, or anyone. */
export type ApiSecurity = 'user' | 'node' | 'bootstrap' | 'public';

export interface ApiResponse {
  readonly description: string;
  readonly schema: TSchema;
  /** Defaults to `application/json`. */
  readonly contentType?: string;
}

/** One gateway-owned operation, as the OpenAPI document shows it. */
export interface ApiOperation {
  readonly summary: string;
  readonly description?: string;
  readonly tag: string;
  readonly security: ApiSecurity;
  /** The JSON request body; `optional` when the operation also accepts none. */
  readonly body?: { readonly schema: TObject; readonly optional?: boolean };
  readonly pathParams?: Readonly<Record<string, { readonly description: string; readonly schema: TSchema }>>;
  readonly queryParams?: Readonly<Record<string, { readonly description: string; readonly schema: TSchema }>>;
  /** Success (and other non-table) answers by status. */
  readonly responses: Readonly<Record<number, ApiResponse>>;
  /** Error-table codes this operation can answer (the JSON body ones are added when it has a body). */
  readonly errors: readonly ErrorCode[];
}

/** `"METHOD /path"` (the route table's spelling, `{name}` for a parameter) → the operation. */
export type ApiOperations = Readonly<Record<string, ApiOperation>>;
