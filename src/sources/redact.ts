// Every spelling a secret can take on its way to a server and back. A token endpoint that answers an
// error by echoing what it was sent (the request body, the Authorization header, in its own
// encoding) must not get our secret onto a helper's stderr or into daemon.log: redacting only the
// literal secret misses it percent-encoded by a form body, JSON-escaped by a JSON body, or in base64
// from a Basic header. So each secret is searched for in all of them.

/** Shorter secrets are not searched for: every message would be full of false hits. */
const MIN_SECRET = 4;
/** A base64 run this short says nothing (it matches ordinary words); longer ones are the secret's. */
const MIN_BASE64_CORE = 8;

function percentAll(s: string, lower: boolean): string {
  let out = '';
  for (const b of Buffer.from(s, 'utf8')) {
    const hex = b.toString(16).padStart(2, '0');
    out += `%${lower ? hex : hex.toUpperCase()}`;
  }
  return out;
}

/** The base64 characters that depend on the secret alone, for each of the three alignments it can have in a longer input. */
function base64Cores(s: string): string[] {
  const bytes = Buffer.from(s, 'utf8');
  const out: string[] = [];
  for (let offset = 0; offset < 3; offset++) {
    const all = Buffer.concat([Buffer.alloc(offset), bytes]);
    const text = all.toString('base64');
    const start = offset === 0 ? 0 : 4; // the first group mixes in the bytes before the secret
    const end = all.length % 3 === 0 ? text.length : text.length - 4; // so does the last, with those after
    const core = text.slice(start, end);
    if (core.length >= MIN_BASE64_CORE) out.push(core, core.replace(/\+/g, '-').replace(/\//g, '_'));
  }
  return out;
}

/** The secret as it travels raw, percent-encoded (%20 and form "+"), JSON-escaped, and in base64/base64url. */
export function secretSpellings(secret: string): string[] {
  const forms = new Set<string>([secret]);
  const uri = encodeURIComponent(secret);
  forms.add(uri);
  forms.add(uri.replace(/%[0-9A-F]{2}/g, (e) => e.toLowerCase()));
  forms.add(uri.replace(/%20/g, '+'));
  forms.add(new URLSearchParams({ x: secret }).toString().slice(2)); // application/x-www-form-urlencoded
  forms.add(percentAll(secret, false));
  forms.add(percentAll(secret, true));
  const json = JSON.stringify(secret).slice(1, -1);
  forms.add(json);
  forms.add(json.replace(/\//g, '\\/')); // PHP's and some Java encoders' escaped slash
  const ascii = json.replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`); // Python's ensure_ascii
  forms.add(ascii);
  forms.add(ascii.replace(/\\u([0-9a-f]{4})/g, (_m, h: string) => `\\u${h.toUpperCase()}`));
  // base64 of the secret as sent: raw (a Bearer echoed in base64, Basic's user:secret), or form-encoded
  // first (RFC 6749 §2.3.1 encodes client credentials before they go into a Basic header).
  for (const sent of new Set([secret, uri, new URLSearchParams({ x: secret }).toString().slice(2)]))
    for (const core of base64Cores(sent)) forms.add(core);
  // The longest first, so a form that contains another is cut whole.
  return [...forms].filter((f) => f.length >= MIN_SECRET).sort((a, b) => b.length - a.length);
}

/** `text` with every spelling of every secret replaced by "[redacted]". */
export function redactSecrets(text: string, secrets: readonly (string | undefined)[]): string {
  let s = text;
  for (const secret of secrets) {
    if (!secret || secret.length < MIN_SECRET) continue;
    for (const form of secretSpellings(secret)) if (s.includes(form)) s = s.split(form).join('[redacted]');
  }
  return s;
}
