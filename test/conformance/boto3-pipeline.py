# Fixture of boto3-pipeline.test.ts: boto3 as a data pipeline meets the engine's realism knobs. Against a server
# whose KMS_FAULTS fail one operation on every call and whose KMS_QUOTAS throttle Encrypt, it records, per retry
# mode, what botocore raised after its retries and how many it made; it pages the listings boto3-client.py does
# not. Prints one JSON object; run with Debian's /usr/bin/python3 (endpoint in KMS_ENDPOINT_URL, credentials in
# the standard AWS_* variables). Any unexpected exception ends it non-zero with its traceback.
import json
import os

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError


def client(mode, attempts):
    return boto3.client('kms', endpoint_url=os.environ['KMS_ENDPOINT_URL'], region_name='us-east-1',
                        config=Config(retries={'mode': mode, 'total_max_attempts': attempts}))


def outcome(call, **params):
    """What a call ended with after botocore's retries: the error it raised, or the retries it needed."""
    try:
        response = call(**params)
        return {'ok': True, 'retries': response['ResponseMetadata']['RetryAttempts']}
    except ClientError as error:
        return {
            'code': error.response['Error']['Code'], 'exception_class': type(error).__name__,
            'status': error.response['ResponseMetadata']['HTTPStatusCode'],
            'retries': error.response['ResponseMetadata']['RetryAttempts'],
        }
    except Exception as error:  # noqa: BLE001 - a connection error is an outcome here, not a failure of the script
        return {'exception_class': type(error).__name__}


results = {}
single = client('standard', 1)
key_arn = single.create_key(Description='boto3 pipeline')['KeyMetadata']['Arn']
results['key_arn'] = key_arn

# --- every failing operation, in both retry modes: three attempts each ------------------------------------------
faults = {}
for mode in ('standard', 'legacy'):
    kms = client(mode, 3)
    faults[mode] = {
        'GenerateRandom': outcome(kms.generate_random, NumberOfBytes=16),
        'DescribeKey': outcome(kms.describe_key, KeyId=key_arn),
        'GenerateDataKey': outcome(kms.generate_data_key, KeyId=key_arn, NumberOfBytes=32),
        'ListAliases': outcome(kms.list_aliases),
        'ListKeyPolicies': outcome(kms.list_key_policies, KeyId=key_arn),
    }
results['faults'] = faults

# --- a quota: a run of Encrypts past KMS_QUOTAS all land, the throttled ones retried -------------------------------
patient = client('standard', 10)
results['throttled_run'] = [outcome(patient.encrypt, KeyId=key_arn, Plaintext=b'row %d' % i) for i in range(8)]
results['throttled_once'] = [outcome(single.encrypt, KeyId=key_arn, Plaintext=b'x') for _ in range(8)]

# --- paginators boto3-client.py leaves out -------------------------------------------------------------------------
retiring = 'arn:aws:iam::111122223333:user/boto3-retirer'
created = [single.create_grant(KeyId=key_arn, GranteePrincipal=f'arn:aws:iam::111122223333:user/boto3-grantee-{i}',
                               RetiringPrincipal=retiring, Operations=['Decrypt'])['GrantId'] for i in range(5)]
pages = list(single.get_paginator('list_retirable_grants').paginate(
    RetiringPrincipal=retiring, PaginationConfig={'PageSize': 2}))
results['retirable'] = {
    'created': created, 'page_sizes': [len(page['Grants']) for page in pages],
    'truncated_flags': [page['Truncated'] for page in pages],
    'listed': [grant['GrantId'] for page in pages for grant in page['Grants']],
    'key_ids': sorted({grant['KeyId'] for page in pages for grant in page['Grants']}),
}
stores = list(single.get_paginator('describe_custom_key_stores').paginate(PaginationConfig={'PageSize': 2}))
results['custom_key_stores'] = [{'stores': page['CustomKeyStores'], 'truncated': page['Truncated']} for page in stores]

print(json.dumps(results))
