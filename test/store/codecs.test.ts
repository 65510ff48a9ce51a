import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseBusAddress } from '../../src/store/dbus-connection.js';
import { decodeMessage, encodeMethodCall, FLAG_NO_AUTO_START, MESSAGE_METHOD_CALL } from '../../src/store/dbus-wire.js';
import { decodeAccount, decodeItem, encodeAccount, encodePassword } from '../../src/store/keychain-codec.js';
import { parseStoreFile, serializeStoreFile } from '../../src/store/file-format.js';

describe('keychain item layout', () => {
  it('account = encoded username @ url, reversible and injective for any strings', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), fc.string({ unit: 'grapheme', minLength: 1 }), (username, url) => {
        expect(decodeAccount(encodeAccount({ url, username }))).toEqual({ url, username });
      }),
    );
    fc.assert(
      fc.property(fc.string(), fc.string({ minLength: 1 }), fc.string(), fc.string({ minLength: 1 }), (u1, url1, u2, url2) => {
        fc.pre(u1 !== u2 || url1 !== url2);
        expect(encodeAccount({ url: url1, username: u1 })).not.toBe(encodeAccount({ url: url2, username: u2 }));
      }),
    );
  });

  it('password JSON round-trips every credential field', () => {
    const e = { url: 'https://a.example', username: 'u', kind: 'bearer' as const, secret: 's', expiresAt: 5, oauthRefreshToken: 'r', updatedAt: 't' };
    expect(decodeItem(encodeAccount(e), encodePassword(e))).toEqual({ entry: e });
    expect(JSON.parse(encodePassword({ url: 'x', username: 'y', kind: 'basic', secret: 'z' }))).toEqual({ v: 1, kind: 'basic', secret: 'z' });
  });

  it('names the problem of a foreign item without quoting its secret', () => {
    expect(decodeItem('no-at-sign', '{}')).toEqual({ problem: 'its account is not "<username>@<url>"' });
    expect(decodeItem('u@https://a', 'hunter2')).toEqual({ problem: 'its secret is not credmux JSON' });
    expect(decodeItem('u@https://a', '{"v":1,"kind":"basic"}')).toEqual({ problem: 'it.secret must be a string' });
    expect(decodeItem('u@https://a', '{"v":9,"kind":"basic","secret":"x"}')).toEqual({ problem: 'its format version is not 1' });
  });
});

describe('credential file format', () => {
  it('parses what it serialises', () => {
    const entries = [
      { url: 'https://a.example', username: 'u', kind: 'basic' as const, secret: 'p' },
      { url: 'https://b.example', username: '', kind: 'bearer' as const, secret: 't', expiresAt: 1 },
    ];
    expect(parseStoreFile(Buffer.from(serializeStoreFile(entries)))).toEqual({ ok: true, entries });
  });
});

describe('D-Bus addresses and wire format', () => {
  it('picks the first unix transport and unescapes it', () => {
    expect(parseBusAddress('unix:path=/run/user/1000/bus')).toEqual({ path: '/run/user/1000/bus', display: 'unix:path=/run/user/1000/bus' });
    expect(parseBusAddress('unix:path=/tmp/a%20b,guid=0123')).toEqual({ path: '/tmp/a b', display: 'unix:path=/tmp/a b' });
    expect(parseBusAddress('tcp:host=x,port=1;unix:abstract=/tmp/dbus-XYZ,guid=9')).toEqual({
      path: '\0/tmp/dbus-XYZ',
      display: 'unix:abstract=/tmp/dbus-XYZ',
    });
    expect(parseBusAddress('autolaunch:')).toEqual({
      problem: 'DBUS_SESSION_BUS_ADDRESS="autolaunch:" has no unix:path= or unix:abstract= transport',
    });
  });

  it('encodes a method call that decodes back to the same header and body', () => {
    const buf = encodeMethodCall({
      serial: 7,
      destination: 'org.freedesktop.secrets',
      path: '/org/freedesktop/secrets',
      interface: 'org.freedesktop.Secret.Service',
      member: 'ReadAlias',
      args: [
        { type: 's', value: 'défault' },
        { type: 'u', value: 4 },
      ],
      flags: FLAG_NO_AUTO_START,
    });
    const d = decodeMessage(buf)!;
    expect(d.size).toBe(buf.length);
    expect(d.message).toMatchObject({ type: MESSAGE_METHOD_CALL, serial: 7, signature: 'su' });
    const body = d.message.body;
    const n = body.readUInt32LE(0);
    expect(body.toString('utf8', 4, 4 + n)).toBe('défault');
    expect(body.readUInt32LE(4 + n + 1 + ((4 - ((4 + n + 1) % 4)) % 4))).toBe(4);
    expect(decodeMessage(buf.subarray(0, buf.length - 1))).toBeUndefined(); // waits for the rest
  });
});
