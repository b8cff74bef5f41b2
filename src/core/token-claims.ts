/** Reading (not verifying) the time claims of a cached JWT: on a cache hit nothing is fetched or verified. */
import { decodeJwt } from 'jose';

export interface TokenTimes {
  /** exp in milliseconds since the epoch. */
  expiresAtMs: number;
  /** iat in milliseconds, when present. */
  issuedAtMs: number | undefined;
}

/** Returns undefined when the token is not a JWT or has no numeric exp (such a token is never reused). */
export function readTokenTimes(token: string): TokenTimes | undefined {
  const claims = decodeJwtClaims(token);
  if (claims === undefined) return undefined;
  const exp = claims['exp'];
  if (typeof exp !== 'number' || !Number.isFinite(exp)) return undefined;
  const iat = claims['iat'];
  return {
    expiresAtMs: exp * 1000,
    issuedAtMs: typeof iat === 'number' && Number.isFinite(iat) ? iat * 1000 : undefined,
  };
}

/** Who a token is about, for `status`: read without verification, never the token itself. */
export interface TokenIdentity {
  subject: string | undefined;
  email: string | undefined;
}

/** Returns undefined when the token is not a JWT. */
export function readTokenIdentity(token: string): TokenIdentity | undefined {
  const claims = decodeJwtClaims(token);
  if (claims === undefined) return undefined;
  const text = (name: string): string | undefined => (typeof claims[name] === 'string' && claims[name] !== '' ? claims[name] : undefined);
  return { subject: text('sub'), email: text('email') };
}

/** The claims of a JWT, unverified (jose's decodeJwt); undefined when it is not a JWT. */
export function decodeJwtClaims(jwt: string): Record<string, unknown> | undefined {
  try {
    return decodeJwt(jwt);
  } catch {
    return undefined;
  }
}
