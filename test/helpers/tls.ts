// A throwaway certificate authority for tests that need a real HTTPS server on 127.0.0.1 that a real
// client (terraform, kubectl, Node) verifies: a CA, and a server certificate it signed for
// `localhost` and `127.0.0.1`. Made with the openssl CLI (Node has no API that issues certificates).
// Clients are pointed at the CA: SSL_CERT_FILE (Go programs: terraform, kubectl), NODE_EXTRA_CA_CERTS
// (credmux, which its launcher hands on as CREDMUX_EXTRA_CA_CERTS), or a kubeconfig's certificate-authority.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestTls {
  dir: string;
  /** PEM file of the CA: what clients are told to trust. */
  caFile: string;
  /** The server's certificate and key, PEM, as node:https's createServer takes them. */
  cert: string;
  key: string;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** A new CA and a server certificate for localhost / 127.0.0.1 / ::1, valid for a day, in a new temp dir. */
export function makeTestTls(dir = mkdtempSync(join(tmpdir(), 'credmux-tls-'))): TestTls {
  openssl(
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '1'].concat([
      '-subj',
      '/CN=credmux test CA',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ]),
    dir,
  );
  openssl(
    [
      'req',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      'server.key',
      '-out',
      'server.csr',
      '-subj',
      '/CN=localhost',
    ],
    dir,
  );
  writeFileSync(
    join(dir, 'server.ext'),
    'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n',
  );
  openssl(
    [
      'x509',
      '-req',
      '-in',
      'server.csr',
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      'server.pem',
      '-days',
      '1',
      '-extfile',
      'server.ext',
    ],
    dir,
  );
  return {
    dir,
    caFile: join(dir, 'ca.pem'),
    cert: readFileSync(join(dir, 'server.pem'), 'utf8'),
    key: readFileSync(join(dir, 'server.key'), 'utf8'),
  };
}
