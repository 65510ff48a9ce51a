// The README's first command (scripts/demo.sh) on the built dist/: one login, then every door
// answers it, and a host no rule matches is not answered. A demo that breaks is a newcomer's first
// impression, so it is a test.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { expect, it } from 'vitest';

const root = join(import.meta.dirname, '../..');
const BASIC = 'Basic YWxpY2U6czNjcmV0'; // alice:s3cret

it('scripts/demo.sh: every door serves the one login', () => {
  const env = { ...process.env };
  delete env.NODE_EXTRA_CA_CERTS;
  const r = spawnSync('bash', [join(root, 'scripts/demo.sh')], { encoding: 'utf8', env, timeout: 120_000 });
  const out = (r.stdout + r.stderr).replace(/\x1b\[[0-9;]*m/g, '');
  expect(r.status, r.stderr).toBe(0);
  expect(out).toContain(`{"headers":{"Authorization":["${BASIC}"]}}`); // Bazel
  expect(out).toContain('username=alice\npassword=s3cret'); // git
  expect(out).toContain('{"ServerURL":"pkgs.example.com","Username":"alice","Secret":"s3cret"}'); // Docker
  expect(out).toContain('{"username": "alice", "password": "s3cret"}'); // keyring (pip/uv)
  expect(out).toContain('{"token":"s3cret"}'); // Terraform
  expect(out).toContain(`{"Ok":{"kind":"get","token":"${BASIC}"`); // cargo
  expect(out).toContain(`https://pkgs.example.com\n\nAuthorization: ${BASIC}\n`); // Go
  expect(out).toContain('"status":{"token":"s3cret"}'); // kubectl
  expect(out).toContain('"auth":{"pkgs.example.com/team/app":{"username":"alice","password":"s3cret"}}'); // kubelet
  expect(out).toMatch(new RegExp(`pnpm.*\\n${BASIC}\\n`)); // pnpm
  expect(out).toContain('credentials not found in native keychain'); // the unmatched host
  expect(out).toContain('Removed 1 stored credential for https://pkgs.example.com'); // logout
});
