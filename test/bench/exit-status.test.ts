// `kms-engine bench` exits 1 when an endpoint had no successful request, after printing the report, with one line
// on stderr naming the commonest error; a run throttled throughout exits 0 and says so. Against a loopback
// endpoint that answers the set-up (DescribeKey) and then misbehaves its own way in each test.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import type { BenchReport } from '../../bench/harness/report.js';
import { LoopbackEndpoint } from './loopback-endpoint.js';
import { runHarness } from './run-harness.js';

const loopback = new LoopbackEndpoint();
afterEach(() => loopback.close());

const answer = (res: ServerResponse, status: number, body: string): void => {
  res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1' });
  res.end(body);
};

/** A stub that answers DescribeKey with `{}` (the harness keeps the spec it assumed) and Encrypt with `encrypt`. */
function serve(encrypt: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
  return loopback.listen((req, res) => {
    req.resume().on('end', () => {
      if (req.headers['x-amz-target'] === 'TrentService.DescribeKey') answer(res, 200, '{}');
      else encrypt(req, res);
    });
  });
}

const SHORT_RUN = ['--key-id', 'alias/bench', '--duration', '1', '--connections', '2', '--pool-size', '4', '--quiet'];

describe('exit status', () => {
  it('is 1 when every answer is an error, naming the commonest code; the report is still printed', async () => {
    let n = 0;
    const endpoint = await serve((_req, res) => {
      if (++n % 4 === 0) answer(res, 400, '{"__type":"IncompleteSignatureException","message":"x"}');
      else answer(res, 400, '{"__type":"UnrecognizedClientException","message":"The security token included in the request is invalid."}');
    });
    const run = await runHarness(['--endpoint', endpoint, ...SHORT_RUN, '--json']);
    expect(run.code).toBe(1);
    const target = (JSON.parse(run.stdout) as BenchReport).targets[0]!;
    expect(target.requests.ok).toBe(0);
    const unrecognized = target.errorsByCode.UnrecognizedClientException!;
    expect(unrecognized).toBeGreaterThan(10);
    expect(run.stderr).toBe(`kms-engine bench: no request to ${endpoint} succeeded: ${target.requests.total} sent, ` +
      `${target.requests.non2xx} non-2xx, 0 transport errors; most often UnrecognizedClientException (${unrecognized})\n`);
  });

  it('is 1 when the endpoint dies after set-up, naming the transport error', async () => {
    const endpoint = await serve(() => { void loopback.close(); });
    const run = await runHarness(['--endpoint', endpoint, ...SHORT_RUN, '--json']);
    expect(run.code).toBe(1);
    const target = (JSON.parse(run.stdout) as BenchReport).targets[0]!;
    expect(target.requests).toMatchObject({ ok: 0, non2xx: 0 });
    expect(target.transportErrorsByCause!.ECONNREFUSED).toBeGreaterThan(0);
    expect(run.stderr).toMatch(new RegExp(`^kms-engine bench: no request to ${endpoint} succeeded: \\d+ sent, 0 non-2xx, ` +
      `\\d+ transport errors; most often ECONNREFUSED \\(${target.transportErrorsByCause!.ECONNREFUSED}\\)\\n$`));
  });

  it('is 0 when every request was throttled (a quota reached at once), said on stderr', async () => {
    const endpoint = await serve((_req, res) => answer(res, 400,
      '{"__type":"ThrottlingException","message":"You have exceeded the rate at which you may call KMS."}'));
    const run = await runHarness(['--endpoint', endpoint, ...SHORT_RUN, '--rate', '20']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('throttles: 20');
    expect(run.stderr).toBe(`kms-engine bench: every request to ${endpoint} was throttled (20, most often ` +
      'ThrottlingException): the quota, not the endpoint, set the rate\n');
  });

  it('is 1 when the --compare endpoint had no success, naming only that one', async () => {
    // One server, two names: the harness signs for each host, and the server answers by the Host it was sent.
    const endpoint = await serve((req, res) => {
      if (req.headers.host?.startsWith('localhost')) answer(res, 403, '{"__type":"AccessDeniedException","message":"no"}');
      else answer(res, 200, '{"CiphertextBlob":"AA==","KeyId":"k"}');
    });
    const compare = endpoint.replace('127.0.0.1', 'localhost');
    const run = await runHarness(['--endpoint', endpoint, '--compare', compare, '--rounds', '1', ...SHORT_RUN, '--json']);
    expect(run.code).toBe(1);
    const [good, bad] = (JSON.parse(run.stdout) as BenchReport).targets;
    expect(good!.requests.ok).toBeGreaterThan(0);
    expect(bad!.requests.ok).toBe(0);
    expect(run.stderr).toMatch(new RegExp(`^kms-engine bench: no request to ${compare} succeeded: .*most often ` +
      'AccessDeniedException \\(\\d+\\)\\n$'));
  });

  it.each([['closed loop', []], ['paced --rate', ['--rate', '50']], ['two load threads', ['--workers', '2']]])(
    'is 0 with nothing on stderr after a --compare run of 8 rounds (%s): 16 segments share one stop signal', async (_, load) => {
      const endpoint = await serve((_req, res) => answer(res, 200, '{"CiphertextBlob":"AA==","KeyId":"k"}'));
      const compare = endpoint.replace('127.0.0.1', 'localhost');
      const run = await runHarness(['--endpoint', endpoint, '--compare', compare, '--rounds', '8', '--key-id', 'alias/bench',
        '--duration', '1.6', '--connections', '2', '--pool-size', '4', '--quiet', ...load, '--json']);
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
    });

  it.each([['closed loop', []], ['paced --rate', ['--rate', '50']], ['two load threads', ['--workers', '2']]])(
    'is 130 after Ctrl-C mid-run (%s), with the report of what was measured', async (_, load) => {
      const endpoint = await serve((_req, res) => answer(res, 200, '{"CiphertextBlob":"AA==","KeyId":"k"}'));
      // 60 s asked for, interrupted at the first progress line; the harness is killed at 25 s if it does not stop.
      const run = await runHarness(['--endpoint', endpoint, '--key-id', 'alias/bench', '--duration', '60',
        '--connections', '2', '--pool-size', '4', ...load, '--json'], 25_000, /measure \S+ 1s: /);
      expect(run.code, run.stderr).toBe(130);
      expect(run.stderr).toContain('kms-engine bench: interrupted; reporting what was measured');
      const report = JSON.parse(run.stdout) as BenchReport;
      expect(report.interrupted).toBe(true);
      const target = report.targets[0]!;
      expect(target.requests.ok).toBeGreaterThan(0);
      expect(target.requests.ok).toBe(target.requests.total);
      expect(target.measuredSeconds).toBeLessThan(60);
    });

  it('is 1 when the --compare endpoint is down before the run, naming it, with no report', async () => {
    // A port that was just listening and is closed now.
    const down = await serve((_req, res) => answer(res, 200, '{}'));
    await loopback.close();
    const up = await serve((_req, res) => answer(res, 200, '{"CiphertextBlob":"AA==","KeyId":"k"}'));
    const run = await runHarness(['--endpoint', up, '--compare', down, ...SHORT_RUN]);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(new RegExp(`^kms-engine bench: DescribeKey to ${down} failed: .*ECONNREFUSED`));
  });
});
