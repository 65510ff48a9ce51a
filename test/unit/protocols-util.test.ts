// decodeUtf8 reads every helper's stdin: it must refuse exactly what a fatal TextDecoder refuses and
// decode the rest to the same text (a BOM kept as data), whatever the bytes.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { decodeUtf8 } from '../../src/protocols/util.js';

const reference = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
function expected(bytes: Uint8Array): string | undefined {
  try {
    return reference.decode(bytes);
  } catch {
    return undefined;
  }
}

describe('decodeUtf8', () => {
  it.each([
    ['plain ASCII', Buffer.from('protocol=https\nhost=example.com\n')],
    ['a BOM, kept as data', Buffer.from([0xef, 0xbb, 0xbf, 0x61])],
    ['a lone continuation byte', Buffer.from([0x61, 0x80])],
    ['a truncated sequence', Buffer.from([0xe2, 0x82])],
    ['an overlong encoding', Buffer.from([0xc0, 0xaf])],
    ['a UTF-16 surrogate, encoded', Buffer.from([0xed, 0xa0, 0x80])],
    ['beyond U+10FFFF', Buffer.from([0xf4, 0x90, 0x80, 0x80])],
    ['four-byte characters', Buffer.from('🔑 clé', 'utf8')],
    ['nothing', Buffer.alloc(0)],
  ])('%s: as a fatal TextDecoder', (_name, bytes) => {
    expect(decodeUtf8(bytes)).toBe(expected(bytes));
  });

  it('refuses malformed bytes instead of inventing U+FFFD', () => {
    expect(decodeUtf8(Buffer.from([0x68, 0x6f, 0x73, 0x74, 0xff]))).toBeUndefined();
  });

  it('a Uint8Array that is a view into a larger buffer: only its own bytes', () => {
    const whole = Buffer.from('xxhello\xffyy', 'latin1');
    expect(decodeUtf8(new Uint8Array(whole.buffer, whole.byteOffset + 2, 5))).toBe('hello');
  });

  it('any bytes: the same answer as a fatal TextDecoder', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        expect(decodeUtf8(bytes)).toBe(expected(bytes));
      }),
      { numRuns: 2000 },
    );
  });

  it('any text: decoded back to itself', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 32 }), (text) => {
        expect(decodeUtf8(Buffer.from(text, 'utf8'))).toBe(text);
      }),
    );
  });
});
