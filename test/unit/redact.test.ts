// redactSecrets (issue 15, class 6): a secret is cut from server text in every spelling it can travel
// in — raw, percent-encoded (%20 and form "+"), JSON-escaped, base64 and base64url at any alignment.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { redactSecrets } from '../../src/sources/redact.js';
import { safeText } from '../../src/sources/errors.js';

const secretArb = fc.string({ unit: 'grapheme', minLength: 12, maxLength: 40 });
const around = fc.string({ maxLength: 20 }).filter((s) => !s.includes('['));

/** The ways a server could echo what it was sent, each applied to a whole message containing the secret. */
const ECHOES: Record<string, (s: string) => string> = {
  raw: (s) => s,
  percent: (s) => encodeURIComponent(s),
  percentLower: (s) => encodeURIComponent(s).replace(/%[0-9A-F]{2}/g, (e) => e.toLowerCase()),
  form: (s) => new URLSearchParams({ k: s }).toString().slice(2),
  json: (s) => JSON.stringify(s),
  jsonAscii: (s) => JSON.stringify(s).replace(/[^\x00-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`),
};

describe('redactSecrets', () => {
  for (const [name, echo] of Object.entries(ECHOES)) {
    it(`property: a secret echoed ${name} inside other text is cut whole`, () => {
      fc.assert(
        fc.property(secretArb, around, around, (secret, before, after) => {
          fc.pre(!before.includes(secret.slice(0, 4)) && !after.includes(secret.slice(0, 4)));
          const out = redactSecrets(`${before}${echo(`key=${secret}&x=1`)}${after}`, [secret]);
          expect(out).toContain('[redacted]');
          for (const spelling of Object.values(ECHOES)) expect(out.includes(spelling(secret).replace(/^"|"$/g, ''))).toBe(false);
        }),
        { numRuns: 300 },
      );
    });
  }

  for (const encoding of ['base64', 'base64url'] as const) {
    it(`property: a secret inside base64 of a longer input (${encoding}), at any alignment, is cut: what is left decodes to no 4 bytes of it`, () => {
      fc.assert(
        fc.property(secretArb, fc.string({ maxLength: 7 }), fc.string({ maxLength: 7 }), (secret, before, after) => {
          const text = Buffer.from(`${before}${secret}${after}`, 'utf8').toString(encoding);
          const out = redactSecrets(`echo: ${text}.`, [secret]);
          expect(out).toContain('[redacted]');
          // Each run left beside the cut decodes to at most 3 bytes of the secret's neighbourhood.
          const secretBytes = Buffer.from(secret, 'utf8');
          for (const run of out.replace('echo: ', '').split('[redacted]')) {
            const bytes = Buffer.from(run.replace(/\.$/, ''), encoding);
            for (let i = 0; i + 4 <= secretBytes.length; i++) expect(bytes.includes(secretBytes.subarray(i, i + 4))).toBe(false);
          }
        }),
        { numRuns: 300 },
      );
    });
  }

  it('a Basic header of client_id:secret form-encoded first (RFC 6749 §2.3.1), echoed, is cut', () => {
    const secret = 'cl!ent secret/+=&é-0123456789';
    const header = Buffer.from(`my-client:${new URLSearchParams({ k: secret }).toString().slice(2)}`).toString('base64');
    expect(redactSecrets(`Authorization: Basic ${header}`, [secret])).toContain('[redacted]');
  });

  it('safeText also folds the text to one short line, and cuts a secret JSON-escaped across a "\\n"', () => {
    const secret = 'line1\nline2-s3cret-value';
    expect(safeText(`got ${JSON.stringify(secret)}`, [secret])).toBe('got "[redacted]"');
    expect(safeText(`got ${secret}`, [secret])).toBe('got [redacted]');
  });
});
