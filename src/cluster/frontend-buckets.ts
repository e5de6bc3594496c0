// A KMS_FRONTENDS front end's quota buckets: those the primary keeps (src/quota/bucket-table.ts), leased over
// the cluster IPC (frontend-link.ts), so the front ends' LeasedQuotaLimiters together admit what one bucket
// admits. A lease or heartbeat the primary does not answer within QUOTA_TIMEOUT_MS fails, and the limiter counts
// locally at its share until a heartbeat is answered again.
import type { SharedBuckets } from '../quota/leased-limiter.js';
import type { FrontendLink } from './frontend-link.js';

export class FrontendBuckets implements SharedBuckets {
  constructor(private readonly link: Pick<FrontendLink, 'leaseTokens' | 'liveFrontends'>) {}

  async lease(bucket: string, rate: number, capacity: number, want: number, owed: number): Promise<number> {
    const granted = await this.link.leaseTokens(bucket, rate, capacity, want, owed);
    if (granted === undefined) throw new Error('the front-end primary did not answer a quota lease');
    return granted;
  }

  /** The primary knows its children: the member id is not needed to count them. */
  async heartbeat(): Promise<number> {
    const live = await this.link.liveFrontends();
    if (live === undefined) throw new Error('the front-end primary did not answer a quota heartbeat');
    return live;
  }

  /** A front end stops counting for the primary when it exits. */
  async leave(): Promise<void> {}

  close(): void {}
}
