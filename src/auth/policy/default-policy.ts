// The key policy CreateKey attaches when the request has none, byte for byte as GetKeyPolicy returns it
// from AWS (kms-api.md 8.2): clients diff it, so the formatting (" : ", two-space indent) matters.

export function defaultKeyPolicy(accountId: string, partition = 'aws'): string {
  return `{
  "Version" : "2012-10-17",
  "Id" : "key-default-1",
  "Statement" : [ {
    "Sid" : "Enable IAM User Permissions",
    "Effect" : "Allow",
    "Principal" : { "AWS" : "arn:${partition}:iam::${accountId}:root" },
    "Action" : "kms:*",
    "Resource" : "*"
  } ]
}`;
}
