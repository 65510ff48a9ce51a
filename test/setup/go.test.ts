// `credmux setup go` and doctor's go check, on the go command's own env file ($GOENV, else
// $XDG_CONFIG_HOME/go/env): plain KEY=value lines as cmd/go/internal/cfg reads them (golang/go
// src/cmd/go/internal/cfg/cfg.go, readEnvFile: the last line of a key wins). No Go ≥ 1.24 is
// installable here, so the wiring is proven by running the GOAUTH command the file names the way go
// would (golang/go src/cmd/go/internal/auth/userauth.go: the entry split, the URL appended, the 4xx
// response on stdin) and reading its answer as go does.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseGoAuthOutput } from '../conformance/goauth-output.js';
import { distBin } from '../helpers/dist.js';
import { run, show } from '../helpers/run.js';
import { newHome, snapshot, type Home } from './home.js';

let h: Home | undefined;
afterEach(async () => {
  await h?.cleanup();
  h = undefined;
});

const envFile = (home: Home) => join(home.home, '.config', 'go', 'env');
const goauthOf = (text: string) =>
  text
    .split('\n')
    .filter((l) => l.startsWith('GOAUTH='))
    .pop()
    ?.slice('GOAUTH='.length);

describe('credmux setup go', () => {
  it('writes GOAUTH=<credmux-go>;netrc (Go default kept), and the command it names answers go as go reads it', async () => {
    h = await newHome('go-setup');
    await h.login('https://goproxy.example.test', 'alice', 's3cret-go');
    const dry = await h.ok(['setup', 'go', '--dry-run']);
    expect(dry.stdout).toContain(`+GOAUTH=${distBin('credmux-go')};netrc`);
    expect(() => readFileSync(envFile(h!))).toThrow();

    await h.ok(['setup', 'go']);
    const value = goauthOf(readFileSync(envFile(h), 'utf8'))!;
    expect(value).toBe(`${distBin('credmux-go')};netrc`);
    // As go runs a command entry: split at ";", words of the entry, the URL appended, the 4xx on stdin.
    const [program, ...words] = value.split(';')[0]!.trim().split(/\s+/);
    const url = 'https://goproxy.example.test/example.test/mod/@v/list';
    const r = await run(program!, [...words, url], { env: h.env, input: 'HTTP/1.1 401 Unauthorized\nWww-Authenticate: Basic realm="x"\n\n' });
    expect(r.code, show(r)).toBe(0);
    const parsed = parseGoAuthOutput(r.stdout);
    expect(parsed).toEqual({
      ok: true,
      sets: [{ urls: ['https://goproxy.example.test'], headers: { Authorization: [`Basic ${Buffer.from('alice:s3cret-go').toString('base64')}`] } }],
    });
    // The startup call (no URL): nothing.
    expect(await run(program!, words, { env: h.env })).toMatchObject({ code: 0, stdout: '' });

    const again = await h.ok(['setup', 'go']);
    expect(again.stdout).toContain('already set up, no change');
  });

  it('keeps what GOAUTH held after credmux-go, replaces a lone off, and --undo gives the bytes back', async () => {
    for (const [before, expected] of [
      ['GOPRIVATE=corp.example.test\nGOAUTH=git /src\nGOFLAGS=-mod=mod', `GOAUTH=${distBin('credmux-go')};git /src`],
      ['GOAUTH=off\n', `GOAUTH=${distBin('credmux-go')}`],
    ] as const) {
      h = await newHome('go-keep');
      mkdirSync(join(h.home, '.config', 'go'), { recursive: true });
      writeFileSync(envFile(h), before);
      const pre = snapshot(h.home, ['.local']);
      await h.ok(['setup', 'go']);
      const after = readFileSync(envFile(h), 'utf8');
      expect(after.split('\n')).toContain(expected);
      expect(after.replace(/^GOAUTH=.*$/m, '')).toBe(before.replace(/^GOAUTH=.*$/m, ''));
      await h.ok(['setup', 'go', '--undo']);
      expect(snapshot(h.home, ['.local'])).toEqual(pre);
      await h.cleanup();
      h = undefined;
    }
  });

  it('undo after the user edited the file takes out only credmux-go; GOENV names the file; GOENV=off is refused', async () => {
    h = await newHome('go-edit');
    await h.ok(['setup', 'go']);
    writeFileSync(envFile(h), `GOPROXY=https://proxy.example.test\n${readFileSync(envFile(h), 'utf8')}`);
    await h.ok(['setup', 'go', '--undo']);
    expect(readFileSync(envFile(h), 'utf8')).toBe('GOPROXY=https://proxy.example.test\n');

    const elsewhere = join(h.root, 'goenv');
    await h.ok(['setup', 'go'], { env: { ...h.env, GOENV: elsewhere } });
    expect(goauthOf(readFileSync(elsewhere, 'utf8'))).toBe(`${distBin('credmux-go')};netrc`);

    const off = await h.credmux(['setup', 'go'], { env: { ...h.env, GOENV: 'off' } });
    expect(off.code).toBe(2);
    expect(off.stderr).toContain("export GOAUTH='");
  });

  it('says when GOAUTH in the environment overrides the file', async () => {
    h = await newHome('go-envvar');
    const r = await h.ok(['setup', 'go'], { env: { ...h.env, GOAUTH: 'netrc' } });
    expect(r.stdout).toContain('Action needed: GOAUTH=netrc in the environment overrides');
  });
});

describe('credmux doctor: go', () => {
  const goLine = async (home: Home, env: NodeJS.ProcessEnv = home.env) => {
    const r = await home.credmux(['doctor', '--json'], { env });
    const checks = (JSON.parse(r.stdout) as { checks: { area: string; status: string; summary: string; fix?: string }[] }).checks;
    return checks.find((c) => c.area === 'go')!;
  };

  it('not wired → info with the fix; wired → ok; a moved helper → error; GOAUTH in the environment wins', async () => {
    h = await newHome('go-doctor');
    expect(await goLine(h)).toMatchObject({ status: 'info', fix: 'credmux setup go' });
    await h.ok(['setup', 'go']);
    expect(await goLine(h)).toMatchObject({ status: 'ok' });
    expect(await goLine(h, { ...h.env, GOAUTH: 'netrc' })).toMatchObject({ status: 'info', fix: 'unset GOAUTH, then: credmux setup go' });
    writeFileSync(envFile(h), `GOAUTH=${join(h.root, 'gone', 'credmux-go')}\n`);
    expect(await goLine(h)).toMatchObject({ status: 'error', fix: 'credmux setup go' });
  });
});
