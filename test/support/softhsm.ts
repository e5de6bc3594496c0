// A throwaway SoftHSM2 token for tests: its own token directory and config (SOFTHSM2_CONF), initialized with
// softhsm2-util (Debian's softhsm2, installed by pretest), a user PIN in a 0600 file, and the pkcs11: URI of a
// root key on it. Also opens the token from the test process, to inspect the key the server created.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const MODULE_CANDIDATES = ['/usr/lib/softhsm/libsofthsm2.so', '/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so', '/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so'];

export interface SoftHsmToken {
  dir: string;
  label: string;
  modulePath: string;
  pinFile: string;
  pin: string;
  /** Environment a process needs to see this token. */
  env: { SOFTHSM2_CONF: string };
  /** pkcs11: URI of the secret key labelled `object` on this token, PIN from the file. */
  uri(object: string): string;
  /** Attributes of the secret key labelled `object`, read from the test process (undefined if absent). */
  inspectKey(object: string): { extractable: boolean; sensitive: boolean; valueReadable: boolean } | undefined;
  /** How many secret keys carry the label `object`. */
  countKeys(object: string): number;
  remove(): void;
}

export function softHsmModulePath(): string {
  const found = MODULE_CANDIDATES.find((path) => existsSync(path));
  if (found === undefined) throw new Error('libsofthsm2.so not found: is Debian softhsm2 installed?');
  return found;
}

export function createSoftHsmToken(label = 'kms-test'): SoftHsmToken {
  const dir = mkdtempSync(join(tmpdir(), 'kms-softhsm-'));
  const tokens = join(dir, 'tokens');
  mkdirSync(tokens);
  const conf = join(dir, 'softhsm2.conf');
  writeFileSync(conf, `directories.tokendir = ${tokens}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`);
  const env = { SOFTHSM2_CONF: conf };
  const pin = '24681357';
  execFileSync('softhsm2-util', ['--init-token', '--free', '--label', label, '--so-pin', '13572468', '--pin', pin], {
    env: { ...process.env, ...env }, stdio: 'ignore',
  });
  const pinFile = join(dir, 'user.pin');
  writeFileSync(pinFile, `${pin}\n`, { mode: 0o600 });
  const modulePath = softHsmModulePath();
  return {
    dir, label, modulePath, pinFile, pin, env,
    uri: (object) => `pkcs11:token=${label};object=${object};type=secret-key?module-path=${modulePath}&pin-source=file:${pinFile}`,
    inspectKey: (object) => inspectKey(modulePath, conf, label, pin, object),
    countKeys: (object) => countKeys(modulePath, conf, label, pin, object),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/**
 * Runs `body` in a child process, logged in to the token, after C_FindObjectsInit for the secret keys labelled
 * `object` (`p` the module, `pk` pkcs11js, `session` open); returns what it printed. A child because
 * SOFTHSM2_CONF is read when the module initializes, once per process.
 */
function inTokenSession(modulePath: string, conf: string, label: string, pin: string, object: string, body: string): string {
  const script = `
    const pk = require('pkcs11js');
    const p = new pk.PKCS11(); p.load(${JSON.stringify(modulePath)}); p.C_Initialize();
    const slot = p.C_GetSlotList(true).find((s) => p.C_GetTokenInfo(s).label.trim() === ${JSON.stringify(label)});
    const session = p.C_OpenSession(slot, pk.CKF_SERIAL_SESSION);
    p.C_Login(session, pk.CKU_USER, ${JSON.stringify(pin)});
    p.C_FindObjectsInit(session, [{ type: pk.CKA_CLASS, value: pk.CKO_SECRET_KEY }, { type: pk.CKA_LABEL, value: ${JSON.stringify(object)} }]);
    ${body}
    p.C_CloseSession(session); p.C_Finalize();`;
  const require = createRequire(import.meta.url);
  return execFileSync(process.execPath, ['-e', script], {
    env: { ...process.env, SOFTHSM2_CONF: conf, NODE_PATH: join(require.resolve('pkcs11js'), '..', '..') },
  }).toString().trim();
}

function countKeys(modulePath: string, conf: string, label: string, pin: string, object: string): number {
  return Number(inTokenSession(modulePath, conf, label, pin, object,
    'console.log(p.C_FindObjects(session, 100).length); p.C_FindObjectsFinal(session);'));
}

function inspectKey(modulePath: string, conf: string, label: string, pin: string, object: string) {
  const out = inTokenSession(modulePath, conf, label, pin, object, `
    const key = p.C_FindObjects(session); p.C_FindObjectsFinal(session);
    if (!key) { console.log('null'); process.exit(0); }
    const [extractable, sensitive] = p.C_GetAttributeValue(session, key, [{ type: pk.CKA_EXTRACTABLE }, { type: pk.CKA_SENSITIVE }]);
    let valueReadable = true;
    try { p.C_GetAttributeValue(session, key, [{ type: pk.CKA_VALUE }]); } catch { valueReadable = false; }
    console.log(JSON.stringify({ extractable: extractable.value[0] === 1, sensitive: sensitive.value[0] === 1, valueReadable }));`);
  return JSON.parse(out) as ReturnType<SoftHsmToken['inspectKey']>;
}
