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
