/**
 * Throw-away TLS material for tests: a private CA and a server certificate for
 * `IP:127.0.0.1, DNS:localhost` signed by it (EC P-256, valid 1 day), made with the
 * `openssl` CLI (execFile, no shell).
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** Paths and PEM contents of a test CA and a server certificate/key signed by it. */
export interface TestTls {
  /** Directory holding all files. */
  dir: string;
  caPath: string;
  caPem: string;
  certPath: string;
  certPem: string;
  keyPath: string;
  keyPem: string;
}

async function openssl(args: string[], cwd: string): Promise<void> {
  try {
    await execFileAsync('openssl', args, { cwd, timeout: 15_000 });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`openssl ${args[0] ?? ''} failed: ${e.stderr ?? e.message}`, { cause: err });
  }
}

/**
 * Creates a CA and a server certificate in `dir` (a fresh mkdtemp directory when omitted).
 * The CA key stays in the directory (`ca-key.pem`) in case a test wants to sign more.
 */
export async function makeTestTls(dir?: string): Promise<TestTls> {
  const target = dir ?? (await mkdtemp(join(tmpdir(), 'kubectl-oidc-login-tls-')));
  await mkdir(target, { recursive: true });

  const caKey = join(target, 'ca-key.pem');
  const caPath = join(target, 'ca.pem');
  const keyPath = join(target, 'server-key.pem');
  const csrPath = join(target, 'server.csr');
  const certPath = join(target, 'server.pem');
  const extPath = join(target, 'server-ext.cnf');
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

  await openssl(
    [
      'req', '-x509', ...ec, '-keyout', caKey, '-out', caPath, '-days', '1', '-sha256',
      '-subj', '/CN=kubectl-oidc-login test CA',
      '-addext', 'basicConstraints=critical,CA:TRUE',
      '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
      '-addext', 'subjectKeyIdentifier=hash',
    ],
    target,
  );
  await openssl(
    ['req', '-new', ...ec, '-keyout', keyPath, '-out', csrPath, '-subj', '/CN=127.0.0.1'],
    target,
  );
  await writeFile(
    extPath,
    [
      'basicConstraints=critical,CA:FALSE',
      'keyUsage=critical,digitalSignature,keyEncipherment',
      'extendedKeyUsage=serverAuth',
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
      'authorityKeyIdentifier=keyid',
      '',
    ].join('\n'),
  );
  await openssl(
    [
      'x509', '-req', '-in', csrPath, '-CA', caPath, '-CAkey', caKey, '-set_serial',
      `0x${Date.now().toString(16)}${Math.floor(Math.random() * 0xffff).toString(16)}`,
      '-days', '1', '-sha256', '-extfile', extPath, '-out', certPath,
    ],
    target,
  );

  const [caPem, certPem, keyPem] = await Promise.all([
    readFile(caPath, 'utf8'),
    readFile(certPath, 'utf8'),
    readFile(keyPath, 'utf8'),
  ]);
  return { dir: target, caPath, caPem, certPath, certPem, keyPath, keyPem };
}
