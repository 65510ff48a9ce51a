// The readers/writers setup and import rely on: TOML (uv; smol-toml under a thin edit layer), INI (pip,
// pypirc), netrc, the diff printer's redaction. Run from source: these are pure functions.
import { describe, expect, it } from 'vitest';
import { redactLine, unifiedDiff } from '../../src/formats/diff.js';
import { iniGet, iniSet, iniUnset, parseIni, pipKey } from '../../src/formats/ini.js';
import { parseToml, TomlError, tomlEditIsExact } from '../../src/formats/toml.js';
import { planUv } from '../../src/cli/setup/uv.js';
import { removeBlock, bazelHelpers } from '../../src/cli/setup/bazel.js';
import { netrcImport } from '../../src/cli/import/netrc.js';
import { FormatError } from '../../src/cli/import/types.js';

describe('TOML reader', () => {
  it('reads the TOML 1.0 value kinds', () => {
    const doc = parseToml(
      [
        '# comment',
        'a = "x\\ty\\u00e9\\"" # trailing',
        "b = 'C:\\path'",
        'c = """',
        'line1',
        'line2 \\',
        '   joined"""',
        "d = '''",
        "raw\\n'''",
        'e = [1, 2_000, 0x1f, 0o7, 0b101, -3, +4.5e1, inf, true, false]',
        'f = [',
        '  "multi", # comment inside',
        '  [1, 2],',
        ']',
        'g = { h = 1, i.j = "k" }',
        'dt = 1979-05-27T07:32:00Z',
        'ld = 1979-05-27',
        'ldt = 1979-05-27 07:32:00',
        '"quoted key" = 1',
        'dotted.key = 2',
        '[table.sub]',
        'x = 1',
        '[[arr]]',
        'y = 1',
        '[[arr]]',
        'y = 2',
        '[arr.nested]',
        'z = 3',
      ].join('\n'),
    );
    expect(doc.value).toEqual({
      a: 'x\tyé"',
      b: 'C:\\path',
      c: 'line1\nline2 joined',
      d: 'raw\\n',
      e: [1, 2000, 31, 7, 5, -3, 45, Infinity, true, false],
      f: ['multi', [1, 2]],
      g: { h: 1, i: { j: 'k' } },
      dt: expect.any(Date),
      ld: expect.any(Date),
      ldt: expect.any(Date),
      'quoted key': 1,
      dotted: { key: 2 },
      table: { sub: { x: 1 } },
      arr: [{ y: 1 }, { y: 2, nested: { z: 3 } }],
    });
    // Dates are smol-toml's TomlDate, which keeps the kind of date it was written as.
    expect([doc.value.dt, doc.value.ld, doc.value.ldt].map((d) => (d as Date).toISOString())).toEqual([
      '1979-05-27T07:32:00.000Z',
      '1979-05-27',
      '1979-05-27T07:32:00.000',
    ]);
    expect(doc.firstHeaderLine).toBe(20);
    expect(doc.topLevel.map((k) => [k.key.join('.'), k.start, k.end])).toContainEqual(['c', 3, 6]);
    expect(doc.topLevel.map((k) => [k.key.join('.'), k.start, k.end])).toContainEqual(['f', 10, 13]);
  });

  it.each([
    ['a = 1\na = 2', /line 2: trying to redefine an already defined table or value/],
    ['a = "unterminated', /line 1: unfinished string/],
    ['[t]\n[t]', /line 2: trying to redefine an already defined table or value/],
    ['a = bare', /line 1: invalid value/],
    ['a = 1 b = 2', /line 1: each key-value declaration must be followed by an end-of-line/],
    ['x = { y = 1 }\n[x.z]', /line 2: trying to redefine/],
    ['a = "\\q"', /line 1: unrecognised escape sequence/],
    ['a = [1, 2', /line 1: expected comma or end of structure/],
  ])('refuses %j with a line number', (text, msg) => {
    expect(() => parseToml(text)).toThrow(TomlError);
    expect(() => parseToml(text)).toThrow(msg);
  });

  it('never quotes a value in an error message', () => {
    try {
      parseToml('token = s3cretvalue-not-quoted');
    } catch (e) {
      expect((e as Error).message).not.toContain('s3cretvalue');
      return;
    }
    throw new Error('expected an error');
  });
});

describe('uv.toml edits (the layer over smol-toml)', () => {
  const spec = () => planUv({ HOME: '/nonexistent', UV_CONFIG_FILE: '/nonexistent/uv.toml' }, { dryRun: true, undo: false }).files[0]!;

  it.each([
    ['absent', null, 'keyring-provider = "subprocess"\n'],
    ['no final newline', 'native-tls = true', 'native-tls = true\nkeyring-provider = "subprocess"'],
    ['a multi-line value before it', 'a = [\n  1,\n]\n# c\n[pip]\nx = 1\n', 'a = [\n  1,\n]\nkeyring-provider = "subprocess"\n# c\n[pip]\nx = 1\n'],
    ['only tables, a comment above the first', '# pip things\n[pip]\nx = 1\n', 'keyring-provider = "subprocess"\n\n# pip things\n[pip]\nx = 1\n'],
    ['another value over lines', 'keyring-provider = """\nimport"""\n[pip]\n', 'keyring-provider = "subprocess"\n[pip]\n'],
  ])('sets keyring-provider (%s) and takes it out again exactly', async (_name, before, after) => {
    const s = spec();
    const r = await s.apply(before);
    expect(r.content).toBe(after);
    expect(await s.revert(r.content, r.owned)).toBe(before === null ? '' : before);
  });

  it('refuses an edit that would change anything else (a dotted key of the same name)', async () => {
    await expect(spec().apply('keyring-provider.x = 1\n')).rejects.toThrow(/edit it by hand/);
  });

  it('tomlEditIsExact compares parsed values, not text', () => {
    expect(tomlEditIsExact('a = 1\n', 'a = 1 # same\nk = "v"\n', 'k', 'v')).toBe(true);
    expect(tomlEditIsExact('a = 1\n', 'a = 2\nk = "v"\n', 'k', 'v')).toBe(false);
    expect(tomlEditIsExact('a = 1\nk = "v"\n', 'a = 1\n', 'k', undefined)).toBe(true);
    expect(tomlEditIsExact('a = 1\n', 'a = \n', 'k', undefined)).toBe(false);
  });
});

describe('INI (pip.conf, pypirc)', () => {
  it('reads sections, both separators, comments and continuation lines', () => {
    const doc = parseIni('[distutils]\nindex-servers =\n    pypi\n    private\n; comment\n[pypi]\nusername: __token__\n# c\nPassword = p=w\n');
    expect(iniGet(doc, 'distutils', 'index-servers')).toBe('pypi\nprivate');
    expect(iniGet(doc, 'pypi', 'username')).toBe('__token__');
    expect(iniGet(doc, 'pypi', 'password')).toBe('p=w');
    expect(iniGet(parseIni('[global]\nKeyring_Provider = import\n'), 'global', 'keyring-provider', pipKey)).toBe('import');
  });

  it.each([
    ['absent', null, '[global]\nkeyring-provider = subprocess\n'],
    ['empty', '', '[global]\nkeyring-provider = subprocess\n'],
    ['no section, no final newline', '[install]\nx = 1', '[install]\nx = 1\n\n[global]\nkeyring-provider = subprocess\n'],
    ['section exists', '[global]\ntimeout = 5\n\n[install]\nx = 1\n', '[global]\ntimeout = 5\nkeyring-provider = subprocess\n\n[install]\nx = 1\n'],
    ['other value, underscore spelling', '[global]\nkeyring_provider = import\n  \n', '[global]\nkeyring-provider = subprocess\n  \n'],
    ['empty section', '[global]\n', '[global]\nkeyring-provider = subprocess\n'],
  ])('sets keyring-provider (%s) and takes it out again exactly', (_name, before, after) => {
    const r = iniSet(before, 'global', 'keyring-provider', 'subprocess');
    expect(r.text).toBe(after);
    const back = iniUnset(r.text, 'global', 'keyring-provider', 'subprocess', r.owned);
    expect(back === '' && before === null ? null : back).toBe(before);
  });

  it('an existing equal value is left alone', () => {
    const text = '[global]\nkeyring-provider=subprocess\n';
    expect(iniSet(text, 'global', 'keyring-provider', 'subprocess').text).toBe(text);
  });
});

describe('bazelrc', () => {
  it('finds helper flags, quoted or not, and removes only the marked block', () => {
    const text = [
      'build --foo',
      'common --credential_helper=a.example.com=/x/credmux-bazel',
      `common "--credential_helper=/path with space/credmux-bazel"`,
      'common --credential_helper=%workspace%/tools/helper',
    ].join('\n');
    expect(bazelHelpers(text)).toEqual([
      { scope: 'a.example.com', path: '/x/credmux-bazel', line: 2 },
      { scope: null, path: '/path with space/credmux-bazel', line: 3 },
      { scope: null, path: '%workspace%/tools/helper', line: 4 },
    ]);
    const block = '# >>> credmux: managed by `credmux setup bazel`; remove with `credmux setup bazel --undo` >>>\ncommon --x\n# <<< credmux <<<\n';
    expect(removeBlock(`a\n\n${block}b\n`, { addedNewline: false, addedBlank: true })).toBe('a\nb\n');
    expect(removeBlock(`a\n\n${block}`, { addedNewline: true, addedBlank: true })).toBe('a');
  });
});

describe('netrc reader (import)', () => {
  it('handles quoting, comments, macdef bodies and default', () => {
    const r = netrcImport.parse(
      '# c\nmachine a login "u ser" password "p\\"w"\nmacdef m\nmachine fake login x password y\n\nmachine b login v password w account z\ndefault login d password e\n',
    );
    expect(r.candidates.map((c) => [c.url, c.credential.username, c.credential.secret])).toEqual([
      ['a', 'u ser', 'p"w'],
      ['b', 'v', 'w'],
    ]);
    expect(r.skipped.map((s) => s.where)).toEqual(['default (line 7)']);
  });

  it('refuses garbage without quoting it', () => {
    expect(() => netrcImport.parse('machine a login u passwrd hunter2\n')).toThrow(FormatError);
    try {
      netrcImport.parse('machine a login u passwrd hunter2\n');
    } catch (e) {
      expect((e as Error).message).not.toContain('hunter2');
    }
  });
});

describe('dry-run diffs', () => {
  it('hide secrets in context lines', () => {
    expect(redactLine(' "auth": "dTpw",')).toBe(' "auth": "***",');
    expect(redactLine('+index-url = https://bob:hunter2@pkgs.example.com/simple')).toBe('+index-url = https://bob:***@pkgs.example.com/simple');
    expect(redactLine(' password = hunter2')).toBe(' password = ***');
    expect(redactLine('+machine h login u password hunter2')).toBe('+machine h login u password ***');
    const d = unifiedDiff(
      '/f',
      '{\n  "auths": {"x": {"auth": "c2VjcmV0"}}\n}\n',
      '{\n  "auths": {"x": {"auth": "c2VjcmV0"}},\n  "credHelpers": {"h": "credmux"}\n}\n',
    );
    expect(d).not.toContain('c2VjcmV0');
    expect(d).toContain('+  "credHelpers"');
  });

  it('numbers hunks like diff -u', () => {
    const before = Array.from({ length: 10 }, (_, i) => `l${i}`).join('\n') + '\n';
    const after = before.replace('l5\n', 'l5\nnew\n');
    expect(unifiedDiff('/f', before, after)).toBe('--- /f\n+++ /f (credmux)\n@@ -4,6 +4,7 @@\n l3\n l4\n l5\n+new\n l6\n l7\n l8\n');
  });
});
