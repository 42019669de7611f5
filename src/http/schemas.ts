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
