/**
 * Sessions and credentials as their holders see them: the session presented (or just made) with its
 * user, and new credentials, shown once to whoever made them.
 */
import { Type, type Static } from 'typebox';
import type { NewCredentials } from '../../directory/credentials.js';
import { otpauthUri } from '../../directory/totp.js';
import type { User } from '../../storage/schema.js';
import type { SignedInSession } from '../../store/sessions.js';

export const SignedInSessionSchema = Type.Object({
  session_id: Type.String(),
  account_id: Type.String(),
  kind: Type.String(),
  create_time: Type.String(),
  expire_time: Type.String(),
  user: Type.Object({ id: Type.String(), email: Type.String(), display_name: Type.String(), role: Type.String() }),
  /**
   * True while the user's password is a generated one: every route but this one's siblings answers
   * PASSWORD_CHANGE_REQUIRED.
   */
  password_change_required: Type.Boolean(),
});

/** The session presented (or just made) and its user, as its holder sees it. */
export function signedInSessionView(session: SignedInSession): Static<typeof SignedInSessionSchema> {
  return {
    session_id: session.id,
    account_id: session.account_id,
    kind: session.kind,
    create_time: session.created_at.toISOString(),
    expire_time: session.expires_at!.toISOString(),
    user: {
      id: session.user_id,
      email: session.user.email,
      display_name: session.user.display_name,
      role: session.user.role,
    },
    password_change_required: session.user.password_change_required,
  };
}

export const SignInSchema = Type.Intersect([
  Type.Object({ session_token: Type.String(), token_type: Type.Literal('Bearer'), expires_in: Type.Integer() }),
  SignedInSessionSchema,
]);

/** A sign-in's answer: the session token, this once, with the session it opened. */
export function signInView(token: string, expiresIn: number, session: SignedInSession): Static<typeof SignInSchema> {
  return {
    session_token: token,
    token_type: 'Bearer' as const,
    expires_in: expiresIn,
    ...signedInSessionView(session),
  };
}

export const ResetCredentialsSchema = Type.Object({
  user_id: Type.String(),
  email: Type.String(),
  password: Type.String(),
  totp_secret: Type.String(),
  totp_uri: Type.String(),
});

/** New credentials as shown, once, to whoever made them: with the otpauth:// URI authenticator apps scan. */
export function credentialsView(email: string, creds: Pick<NewCredentials, 'password' | 'totpSecret'>) {
  return {
    password: creds.password,
    totp_secret: creds.totpSecret,
    totp_uri: otpauthUri(creds.totpSecret, 'Cordon', email),
  };
}

/** A credential reset's answer: whose credentials, and the new ones. */
export function resetCredentialsView(
  user: Pick<User, 'id' | 'email'>,
  creds: Pick<NewCredentials, 'password' | 'totpSecret'>,
): Static<typeof ResetCredentialsSchema> {
  return { user_id: user.id, email: user.email, ...credentialsView(user.email, creds) };
}
