// When a minted token stops being served: the earliest of JWT exp, expires_in and ttlSeconds.
import { SignJWT, UnsecuredJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { jwtExp, tokenExpiry, TokenShapeError } from '../../src/sources/jwt-expiry.js';

const NOW = 2_000_000_000;
const key = new TextEncoder().encode('test-key-not-a-secret-0123456789abcdef');
const jwt = (exp?: number) => {
  const j = new SignJWT({ sub: 'x' }).setProtectedHeader({ alg: 'HS256' });
  return (exp === undefined ? j : j.setExpirationTime(exp)).sign(key);
};

describe('token expiry', () => {
  it('reads exp from a JWT without checking its signature (that is the server’s business)', async () => {
    expect(await jwtExp(await jwt(NOW + 3600))).toBe(NOW + 3600);
    expect(await jwtExp(new UnsecuredJWT({ exp: NOW + 60 }).encode())).toBe(NOW + 60);
    expect(await jwtExp(await jwt())).toBeNull();
    expect(await jwtExp('opaque-token')).toBeUndefined();
    expect(await jwtExp('a.b.c')).toBeUndefined(); // JWT-shaped, not a JWT
  });

  it('the earliest bound wins: exp, expires_in (number or numeric string), ttlSeconds', async () => {
    const t = await jwt(NOW + 3600);
    expect(await tokenExpiry(t, { now: NOW })).toBe(NOW + 3600);
    expect(await tokenExpiry(t, { now: NOW, expiresIn: 600 })).toBe(NOW + 600);
    expect(await tokenExpiry(t, { now: NOW, expiresIn: '300' })).toBe(NOW + 300);
    expect(await tokenExpiry(t, { now: NOW, expiresIn: 600, ttlSeconds: 120 })).toBe(NOW + 120);
    expect(await tokenExpiry('opaque', { now: NOW })).toBeUndefined();
    expect(await tokenExpiry('opaque', { now: NOW, expiresIn: 'soon' })).toBeUndefined();
    expect(await tokenExpiry('opaque', { now: NOW, ttlSeconds: 90 })).toBe(NOW + 90);
  });

  it('refuses a non-JWT where one is expected, and a token already expired (usually a clock problem)', async () => {
    await expect(tokenExpiry('opaque', { now: NOW, expect: 'jwt' })).rejects.toThrow(TokenShapeError);
    await expect(tokenExpiry(await jwt(NOW - 1), { now: NOW })).rejects.toThrow(/expired at .* already \(is this machine's clock right\?\)/);
  });
});
