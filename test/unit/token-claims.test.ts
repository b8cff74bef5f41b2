import { describe, expect, it } from 'vitest';
import { decodeJwtClaims, readTokenTimes } from '../../src/core/token-claims.js';

const b64u = (bytes: Uint8Array | string): string => Buffer.from(bytes).toString('base64url');
const jwt = (payload: string): string => `${b64u('{"alg":"RS256"}')}.${payload}.c2ln`;
const json = (value: unknown): string => b64u(JSON.stringify(value));
const bytes = (...values: number[]): string => b64u(Uint8Array.from(values));

const payloads: [string, string][] = [
  ['plain claims', json({ sub: 'alice', exp: 1_900_000_000, iat: 1_800_000_000 })],
  ['non-ASCII UTF-8', json({ name: 'José Müller 日本 🚀', exp: 1 })],
  ['a UTF-8 BOM', b64u(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"exp":5}')]))],
  ['invalid UTF-8', b64u(Buffer.concat([Buffer.from('{"n":"'), Buffer.from([0xff, 0xfe]), Buffer.from('","exp":5}')]))],
  ['an overlong encoding', b64u(Buffer.concat([Buffer.from('{"n":"'), Buffer.from([0xc0, 0xaf]), Buffer.from('","exp":5}')]))],
  ['an encoded surrogate', b64u(Buffer.concat([Buffer.from('{"n":"'), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('","exp":5}')]))],
  ['a truncated sequence', b64u(Buffer.concat([Buffer.from('{"n":"'), Buffer.from([0xf0, 0x9f, 0x98]), Buffer.from('","exp":5}')]))],
  ['Latin-1 bytes', bytes(0x7b, 0x22, 0x6e, 0x22, 0x3a, 0x22, 0xe9, 0x22, 0x7d)],
  ['C1 controls as UTF-8', json({ n: '\u0085\u009f', exp: 7 })],
  ['a JSON array', json([1, 2])],
  ['JSON null', json(null)],
  ['a JSON number', json(42)],
  ['a JSON string', json('x')],
  ['__proto__ as a claim', b64u('{"__proto__":{"exp":1},"exp":2}')],
  ['not JSON', b64u('{exp:1}')],
  ['standard base64 with +', Buffer.from('{"a":">>>?"}').toString('base64')],
  ['standard base64 with /', Buffer.from('{"a":"???"}').toString('base64')],
  ['padding', `${json({ exp: 1 })}==`],
  ['right padding', Buffer.from('{"exp":12}').toString('base64')],
  ['wrong padding', `${json({ exp: 1 })}=`],
  ['= inside', `e=${json({ exp: 1 })}`],
  ['whitespace inside', ` ${json({ exp: 1 }).slice(0, 4)}\t${json({ exp: 1 }).slice(4)}\n`],
  ['length 4n+1', `${json({ exp: 1 })}A`],
  ['invalid letters', `${json({ exp: 1 })}!`],
  ['a non-Latin-1 letter', `${json({ exp: 1 })}é`],
  ['empty', ''],
];

describe('decodeJwtClaims', () => {
  it('is undefined for anything that is not a JWT with a JSON object payload', () => {
    for (const token of ['opaque-access-token', '..', `${b64u('{}')}.${json({ exp: 1 })}`, `a.${json({ exp: 1 })}.c.d.e`]) expect(decodeJwtClaims(token)).toBeUndefined();
  });

  it('keeps claims with non-ASCII text, and rejects what jose rejects', () => {
    expect(decodeJwtClaims(jwt(json({ name: 'José', exp: 3 })))).toEqual({ name: 'José', exp: 3 });
    expect(decodeJwtClaims(jwt(payloads[3]?.[1] ?? ''))).toBeUndefined();
    expect(readTokenTimes(jwt(json({ exp: 1_900_000_000, iat: 1_800_000_000 })))).toEqual({ expiresAtMs: 1_900_000_000_000, issuedAtMs: 1_800_000_000_000 });
  });
});
