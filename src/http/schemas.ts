import { Type } from 'typebox';

/** google.rpc.Status, the error shape of every non-OAuth route. */
export const RpcStatusSchema = Type.Object(
  {
    code: Type.Integer({ description: 'google.rpc.Code' }),
    message: Type.String(),
    details: Type.Array(
      Type.Object({
        '@type': Type.String(),
        reason: Type.String({ description: 'Machine-readable reason, e.g. LAST_OWNER' }),
        domain: Type.String(),
        metadata: Type.Optional(Type.Record(Type.String(), Type.String())),
      }),
    ),
  },
  { $id: 'RpcStatus', title: 'google.rpc.Status' },
);

/** A Cordon id in a path: 26 characters of RFC 4648 base32 (the 1Password form). */
export const IdSchema = Type.String({ pattern: '^[A-Z2-7]{26}$' });
