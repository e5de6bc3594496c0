// The AWS error an SDK call fails with, as tests assert on it.

export interface Failure {
  name: string;
  message: string;
  status?: number;
}

/** The AWS error a call fails with (name = __type, message, HTTP status); throws if the call succeeds. */
export async function failure(promise: Promise<unknown>): Promise<Failure> {
  try {
    await promise;
  } catch (error) {
    const e = error as { name: string; message: string; $metadata?: { httpStatusCode?: number } };
    return { name: e.name, message: e.message, status: e.$metadata?.httpStatusCode };
  }
  throw new Error('expected the call to fail');
}

/** The AWS error code of a failed SDK call (its `name`), or 'ok'. */
export async function outcome(call: Promise<unknown>): Promise<string> {
  try {
    await call;
    return 'ok';
  } catch (error) {
    return (error as { name?: string }).name ?? 'unknown';
  }
}
