// HTTPS with KMS_TLS_CERT/KMS_TLS_KEY: a throwaway CA and server certificate made with the openssl CLI; the JS
// AWS SDK, the AWS CLI v2 and the AWS Encryption SDK work unchanged when given the CA; clients offering only
// TLS 1.1, and plain HTTP clients, are refused; `kms-engine bench` drives it over TLS. Plain HTTP on a non-loopback address prints a warning.
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { promisify } from 'node:util';
import { buildClient, CommitmentPolicy, getClient, KmsKeyringNode } from '@aws-crypto/client-node';
import { CreateKeyCommand, DecryptCommand, EncryptCommand, KMS, KMSClient, ListKeysCommand } from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../src/paths.js';
import { startServer, type TestServer } from '../support/server.js';

const run = promisify(execFile);
const BIN = join(PROJECT_ROOT, 'bin', 'kms-engine.js');

let dir: string;
let caFile: string;
let ca: string;
let certFile: string;
let keyFile: string;
let server: TestServer;
let httpsUrl: string;

/** A CA and a server certificate for 127.0.0.1 and localhost, both P-256, made with the openssl CLI. */
function makeCertificates(): void {
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key',
    '-out', 'ca.pem', '-days', '2', '-subj', '/CN=kms-engine test CA');
  openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'server.key',
    '-out', 'server.csr', '-subj', '/CN=localhost');
  writeFileSync(join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  openssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial',
    '-out', 'server.pem', '-days', '2', '-extfile', 'server.ext');
  caFile = join(dir, 'ca.pem');
  certFile = join(dir, 'server.pem');
  keyFile = join(dir, 'server.key');
  ca = readFileSync(caFile, 'utf8');
}

const sdkClient = (withCa = true) => new KMSClient({
  region: 'us-east-1', endpoint: httpsUrl, credentials: server.credentials, maxAttempts: 1,
  requestHandler: { httpsAgent: new Agent(withCa ? { ca } : {}) },
});

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kms-tls-'));
  makeCertificates();
  server = await startServer({ env: { KMS_TLS_CERT: certFile, KMS_TLS_KEY: keyFile } });
  httpsUrl = server.url;
});
afterAll(async () => {
  await server?.remove();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

describe('HTTPS', () => {
  it('announces an https URL', () => {
    expect(httpsUrl).toBe(`https://127.0.0.1:${server.port}`);
  });

  it('the JS AWS SDK works given the CA, and refuses the server without it', async () => {
    const kms = sdkClient();
    const keyId = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    const { CiphertextBlob } = await kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('over tls') }));
    const { Plaintext } = await kms.send(new DecryptCommand({ CiphertextBlob }));
    expect(Buffer.from(Plaintext!).toString()).toBe('over tls');
    await expect(sdkClient(false).send(new ListKeysCommand({}))).rejects.toThrow(/self[- ]signed|unable to (get|verify)/i);
  });

  it('policies see aws:SecureTransport true: a key policy allowing only over TLS passes the lockout check and lets its account in', async () => {
    const kms = sdkClient();
    const Policy = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${server.accountId}:root` },
      Action: 'kms:*', Resource: '*', Condition: { Bool: { 'aws:SecureTransport': 'true' } } }] });
    const keyId = (await kms.send(new CreateKeyCommand({ Policy }))).KeyMetadata!.KeyId!;
    await kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('over tls') }));
  });

  it('the AWS CLI v2 works with --ca-bundle', async () => {
    const aws = async (...args: string[]) => {
      const { stdout } = await run('/usr/bin/aws', ['kms', ...args, '--endpoint-url', httpsUrl, '--ca-bundle', caFile, '--output', 'json'], {
        env: {
          ...process.env, AWS_ACCESS_KEY_ID: server.credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: server.credentials.secretAccessKey,
          AWS_REGION: 'us-east-1', AWS_CONFIG_FILE: '/dev/null', AWS_SHARED_CREDENTIALS_FILE: '/dev/null', AWS_PAGER: '',
        },
      });
      return JSON.parse(stdout) as Record<string, any>;
    };
    const created = await aws('create-key', '--description', 'cli over tls');
    const encrypted = await aws('encrypt', '--key-id', created.KeyMetadata.KeyId, '--plaintext', Buffer.from('cli tls').toString('base64'));
    const decrypted = await aws('decrypt', '--ciphertext-blob', encrypted.CiphertextBlob);
    expect(Buffer.from(decrypted.Plaintext as string, 'base64').toString()).toBe('cli tls');
  });

  it('the AWS Encryption SDK works with a KMS client given the CA', async () => {
    const generator = (await sdkClient().send(new CreateKeyCommand({}))).KeyMetadata!.Arn!;
    const clientProvider = getClient(KMS, {
      endpoint: httpsUrl, credentials: server.credentials, requestHandler: { httpsAgent: new Agent({ ca }) },
    });
    const keyring = new KmsKeyringNode({ generatorKeyId: generator, clientProvider });
    const { encrypt, decrypt } = buildClient(CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT);
    const message = Buffer.alloc(64 * 1024, 7);
    const { result } = await encrypt(keyring, message, { encryptionContext: { purpose: 'tls' } });
    expect(Buffer.from((await decrypt(keyring, result)).plaintext).equals(message)).toBe(true);
  });

  it('kms-engine bench drives it at a fixed rate over TLS, trusting the CA from NODE_EXTRA_CA_CERTS', async () => {
    const bench = (extraCa: boolean) => run(process.execPath, [BIN, 'bench', '--endpoint', httpsUrl, '--scenario', 'encrypt',
      '--rate', '50', '--duration', '1', '--connections', '4', '--warmup', '0', '--quiet', '--json'], {
      env: {
        ...process.env, KMS_ACCESS_KEY_ID: server.credentials.accessKeyId, KMS_SECRET_ACCESS_KEY: server.credentials.secretAccessKey,
        ...(extraCa ? { NODE_EXTRA_CA_CERTS: caFile } : {}),
      },
    });
    const report = JSON.parse((await bench(true)).stdout) as { targets: Array<{ requests: Record<string, number> }> };
    expect(report.targets[0]!.requests).toMatchObject({ total: 50, ok: 50, non2xx: 0, transportErrors: 0 });
    // Without the CA the harness cannot even prepare its key: the server's certificate is refused.
    await expect(bench(false)).rejects.toThrow(/self[- ]signed|unable to (get|verify)/i);
  });

  it('refuses a client that offers only TLS 1.1, and accepts TLS 1.2', async () => {
    const handshake = (version: 'TLSv1.1' | 'TLSv1.2') => new Promise<string>((resolve, reject) => {
      // SECLEVEL=0 lets this client offer TLS 1.1 at all, so the refusal below is the server's.
      const socket = connect({
        host: '127.0.0.1', port: server.port, ca, servername: 'localhost', minVersion: version, maxVersion: version,
        ciphers: 'DEFAULT@SECLEVEL=0',
      }, () => {
        resolve(socket.getProtocol() ?? '');
        socket.end();
      });
      socket.once('error', reject);
    });
    expect(await handshake('TLSv1.2')).toBe('TLSv1.2');
    await expect(handshake('TLSv1.1')).rejects.toMatchObject({ code: 'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION' });
  });

  it('refuses plain HTTP', async () => {
    const plain = `http://127.0.0.1:${server.port}`;
    await expect(fetch(`${plain}/healthz`)).rejects.toThrow();
    const kms = new KMSClient({ region: 'us-east-1', endpoint: plain, credentials: server.credentials, maxAttempts: 1 });
    await expect(kms.send(new ListKeysCommand({}))).rejects.toThrow();
  });
});

describe('TLS configuration', () => {
  const serve = (env: Record<string, string>) => spawnSync(process.execPath, [BIN, 'serve'], {
    env: { ...process.env, PORT: '0', KMS_DATA_DIR: join(dir, 'refused'), KMS_WORKERS: '1', ...env }, encoding: 'utf8', timeout: 30_000,
  });

  it('a missing file or a key that does not match the certificate stops the server naming the variable', () => {
    const missing = serve({ KMS_TLS_CERT: join(dir, 'absent.pem'), KMS_TLS_KEY: keyFile });
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/^kms-engine: KMS_TLS_CERT: cannot read .*absent\.pem \(ENOENT\)$/m);
    const mismatched = serve({ KMS_TLS_CERT: certFile, KMS_TLS_KEY: join(dir, 'ca.key') });
    expect(mismatched.status).toBe(2);
    expect(mismatched.stderr).toMatch(/^kms-engine: KMS_TLS_CERT\/KMS_TLS_KEY: not a usable certificate and private key/m);
  });

  // OpenSSL checks a key only against a certificate of its own type: an RSA key beside the P-256 certificate used
  // to start a server that announced https and then failed every handshake.
  it('a key of another type than the certificate stops the server naming the variables, in one line', () => {
    execFileSync('openssl', ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', join(dir, 'rsa.key')], { stdio: 'ignore' });
    const run = serve({ KMS_TLS_CERT: certFile, KMS_TLS_KEY: join(dir, 'rsa.key') });
    expect(run.status, `${run.stdout}${run.stderr}`).toBe(2);
    expect(`${run.stdout}${run.stderr}`.trim()).toMatch(/^kms-engine: KMS_TLS_CERT\/KMS_TLS_KEY: not a usable certificate and private key: [^\n]*$/);
  });

  it('plain HTTP on a non-loopback address prints a warning; on loopback it does not', async () => {
    const exposed = await startServer({ env: { HOST: '0.0.0.0' } });
    try {
      expect(exposed.output()).toMatch(/warning: serving plain HTTP on 0\.0\.0\.0, which is not a loopback address; set KMS_TLS_CERT and KMS_TLS_KEY/);
      const response = await fetch(`http://127.0.0.1:${exposed.port}/healthz`);
      expect(response.status).toBe(200);
    } finally {
      await exposed.remove();
    }
    expect(server.output()).not.toMatch(/warning: serving plain HTTP/);
  });
});
