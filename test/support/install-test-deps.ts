// pretest: installs the Debian packages the test suite drives for real, when missing (these machines run
// as root and reach Debian's archive). One `apt-get update`, one `apt-get install` for all that is missing.
import { execFileSync, spawnSync } from 'node:child_process';

/** command that proves the package is present -> Debian package providing it */
const REQUIRED: ReadonlyArray<{ check: string[]; pkg: string }> = [
  { check: ['openssl', 'version'], pkg: 'openssl' },
  { check: ['/usr/bin/aws', '--version'], pkg: 'awscli' },
  // test/conformance/boto3.test.ts runs Debian's python3 directly: `python3` on PATH may be a pyenv shim without boto3
  { check: ['/usr/bin/python3', '-c', 'import boto3'], pkg: 'python3-boto3' },
  { check: ['promtool', '--version'], pkg: 'prometheus' },
  { check: ['softhsm2-util', '--version'], pkg: 'softhsm2' },
  // test/support/postgres.ts runs initdb/pg_ctl from /usr/lib/postgresql/N/bin (not on PATH)
  { check: ['sh', '-c', 'ls /usr/lib/postgresql/*/bin/initdb'], pkg: 'postgresql' },
  { check: ['redis-server', '--version'], pkg: 'redis-server' },
];

const present = (check: string[]): boolean => spawnSync(check[0]!, check.slice(1), { stdio: 'ignore' }).status === 0;

const missing = REQUIRED.filter((requirement) => !present(requirement.check)).map((requirement) => requirement.pkg);
if (missing.length > 0) {
  console.log(`pretest: installing Debian packages: ${missing.join(' ')}`);
  const run = (args: string[]) => execFileSync('apt-get', args, {
    stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  run(['update', '-qq']);
  run(['install', '-y', '-qq', '--no-install-recommends', ...missing]);
}
