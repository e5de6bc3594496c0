// CloudTrail's userIdentity.principalId: the account id for an account root, the IAM unique id of a user
// (AIDA...), and for an assumed-role session the role's unique id and the session name (AROA...:session).
// IAM assigns unique ids when it creates a user or role; this engine has no IAM, so it derives them from the
// ARN: an identity keeps its id across restarts and on every node, and two ARNs get two ids. Not secret: the
// ARN is in the same record, and the id is a one-way digest of it.
import { createHash } from 'node:crypto';
import { parsePrincipalArn } from './policy/principal-arn.js';

/** IAM unique ids are upper-case letters and digits: here the base32 alphabet. */
const ID_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
/** After the 4-letter prefix, as in AIDAJQABLZS4A3QDU576Q. */
const ID_CHARACTERS = 17;

function uniqueId(prefix: 'AIDA' | 'AROA', arn: string): string {
  const digest = createHash('sha256').update('kms-engine/principal-id/v1|').update(arn).digest();
  let id = prefix;
  for (let i = 0; i < ID_CHARACTERS; i++) id += ID_ALPHABET[digest[i]! & 31];
  return id;
}

/** The unique id of a role (AROA...), which every session of it shares: the role's principalId as a session issuer. */
export const roleIdOf = (roleArn: string): string => uniqueId('AROA', roleArn);

/**
 * The principalId CloudTrail records for a caller of this CloudTrail identity type (Root, IAMUser,
 * AssumedRole), or undefined for a type without one here. Costs a hash: callers keep the result per principal.
 */
export function principalIdOf(type: string, arn: string, accountId: string): string | undefined {
  switch (type) {
    case 'Root':
      return accountId;
    case 'IAMUser':
      return uniqueId('AIDA', arn);
    case 'AssumedRole': {
      // Every session of a role shares the role's id; the session name tells them apart.
      const parsed = parsePrincipalArn(arn);
      if (parsed?.roleArn === undefined) return undefined;
      return `${roleIdOf(parsed.roleArn)}:${arn.slice(arn.lastIndexOf('/') + 1)}`;
    }
    default:
      return undefined;
  }
}
