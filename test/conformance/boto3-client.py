# Fixture of boto3.test.ts: an unchanged boto3 client drives a realistic flow against kms-engine and prints
# one JSON object of what it saw (bytes as base64, datetimes as epoch seconds plus their Python type) for the
# TypeScript test to assert on. Run with Debian's /usr/bin/python3; the endpoint comes from KMS_ENDPOINT_URL,
# credentials and region from the standard AWS_* variables. Any unexpected exception ends the script non-zero
# with its traceback, so the test fails loudly.
import base64
import datetime
import json
import os
import uuid

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

kms = boto3.client(
    'kms',
    endpoint_url=os.environ['KMS_ENDPOINT_URL'],
    region_name='us-east-1',
    # One attempt: a retried call would hide a server answer botocore classes as retryable.
    config=Config(retries={'max_attempts': 1, 'mode': 'standard'}),
)


def b64(data):
    return base64.b64encode(data).decode('ascii')


def timestamp(value):
    """A datetime botocore parsed, as what the test checks: its type, whether it is timezone-aware, epoch seconds."""
    return {
        'type': type(value).__name__,
        'aware': value.tzinfo is not None and value.utcoffset() is not None,
        'epoch': value.timestamp(),
    }


def client_error(call, **params):
    """The botocore ClientError a call raises: its code, message and HTTP status; fails if the call succeeds."""
    try:
        call(**params)
    except ClientError as error:
        return {
            'code': error.response['Error']['Code'],
            'message': error.response['Error'].get('Message', ''),
            'status': error.response['ResponseMetadata']['HTTPStatusCode'],
            'exception_class': type(error).__name__,
        }
    raise AssertionError(f'{call.__name__} succeeded but should have failed')


results = {}
run_id = uuid.uuid4().hex[:8]

# --- symmetric key, describe_key and its datetime ---------------------------------------------------------------
created = kms.create_key(Description='boto3 symmetric', Tags=[{'TagKey': 'client', 'TagValue': 'boto3'}])['KeyMetadata']
key_id = created['KeyId']
described = kms.describe_key(KeyId=key_id)['KeyMetadata']
results['create_key'] = {
    'KeyId': key_id, 'Arn': created['Arn'], 'KeySpec': created['KeySpec'], 'KeyUsage': created['KeyUsage'],
    'KeyState': created['KeyState'], 'Enabled': created['Enabled'], 'Description': created['Description'],
    'EncryptionAlgorithms': created['EncryptionAlgorithms'], 'CreationDate': timestamp(created['CreationDate']),
}
results['describe_key'] = {
    'KeyId': described['KeyId'], 'Arn': described['Arn'], 'CreationDate': timestamp(described['CreationDate']),
}
results['now'] = datetime.datetime.now(datetime.timezone.utc).timestamp()
metadata = kms.list_keys(Limit=1)['ResponseMetadata']
results['response_metadata'] = {
    'RequestId': metadata.get('RequestId'), 'HTTPStatusCode': metadata['HTTPStatusCode'],
    'content_type': metadata['HTTPHeaders'].get('content-type'), 'RetryAttempts': metadata['RetryAttempts'],
}

# --- encrypt / decrypt with an encryption context ---------------------------------------------------------------
context = {'app': 'boto3', 'purpose': 'conformance'}
plaintext = b'boto3 secret \x00\xff'
encrypted = kms.encrypt(KeyId=key_id, Plaintext=plaintext, EncryptionContext=context)
decrypted = kms.decrypt(CiphertextBlob=encrypted['CiphertextBlob'], EncryptionContext=context)
results['encrypt'] = {
    'KeyId': encrypted['KeyId'], 'EncryptionAlgorithm': encrypted['EncryptionAlgorithm'],
    'CiphertextBlob': b64(encrypted['CiphertextBlob']),
}
results['decrypt'] = {
    'KeyId': decrypted['KeyId'], 'EncryptionAlgorithm': decrypted['EncryptionAlgorithm'],
    'plaintext_matches': decrypted['Plaintext'] == plaintext,
}

# --- ciphertexts cross between clients: the JS SDK's opens in boto3 and boto3's is returned for the JS SDK -------
# The contexts hold non-ASCII text: botocore escapes it as \uXXXX (surrogate pairs too) while the JS SDK sends
# UTF-8, and the server must authenticate both as the same context.
unicode_context = json.loads(os.environ['UNICODE_CONTEXT'])
from_js = kms.decrypt(CiphertextBlob=base64.b64decode(os.environ['JS_CIPHERTEXT']), EncryptionContext=unicode_context)
for_js = kms.encrypt(KeyId=key_id, Plaintext=b'from boto3', EncryptionContext=unicode_context)
results['cross_client'] = {
    'js_plaintext': from_js['Plaintext'].decode(), 'js_KeyId': from_js['KeyId'],
    'boto3_ciphertext': b64(for_js['CiphertextBlob']),
}

# --- generate_data_key: the plaintext data key and its ciphertext belong together -------------------------------
data_key = kms.generate_data_key(KeyId=key_id, KeySpec='AES_256', EncryptionContext=context)
opened = kms.decrypt(CiphertextBlob=data_key['CiphertextBlob'], EncryptionContext=context)
results['generate_data_key'] = {
    'KeyId': data_key['KeyId'], 'plaintext_length': len(data_key['Plaintext']),
    'decrypts_to_plaintext': opened['Plaintext'] == data_key['Plaintext'],
}

# --- re_encrypt under a second key and a new context -------------------------------------------------------------
second_key = kms.create_key(Description='boto3 re-encrypt target')['KeyMetadata']
new_context = {'app': 'boto3', 'purpose': 're-encrypted'}
re_encrypted = kms.re_encrypt(
    CiphertextBlob=encrypted['CiphertextBlob'], SourceEncryptionContext=context,
    DestinationKeyId=second_key['KeyId'], DestinationEncryptionContext=new_context,
)
reopened = kms.decrypt(CiphertextBlob=re_encrypted['CiphertextBlob'], EncryptionContext=new_context)
results['re_encrypt'] = {
    'SourceKeyId': re_encrypted['SourceKeyId'], 'KeyId': re_encrypted['KeyId'], 'second_key_arn': second_key['Arn'],
    'SourceEncryptionAlgorithm': re_encrypted['SourceEncryptionAlgorithm'],
    'DestinationEncryptionAlgorithm': re_encrypted['DestinationEncryptionAlgorithm'],
    'decrypted_key_id': reopened['KeyId'], 'plaintext_matches': reopened['Plaintext'] == plaintext,
    'old_context_rejected': client_error(
        kms.decrypt, CiphertextBlob=re_encrypted['CiphertextBlob'], EncryptionContext=context)['code'],
}

# --- an alias, used in place of the key id -----------------------------------------------------------------------
alias_name = f'alias/boto3-{run_id}'
kms.create_alias(AliasName=alias_name, TargetKeyId=key_id)
by_alias = kms.encrypt(KeyId=alias_name, Plaintext=b'via alias')
results['alias'] = {
    'AliasName': alias_name,
    'encrypt_KeyId': by_alias['KeyId'],
    'describe_KeyId': kms.describe_key(KeyId=alias_name)['KeyMetadata']['KeyId'],
    'decrypted': kms.decrypt(CiphertextBlob=by_alias['CiphertextBlob'])['Plaintext'].decode(),
    'describe_by_alias_arn_KeyId': kms.describe_key(
        KeyId=created['Arn'].replace(f'key/{key_id}', alias_name))['KeyMetadata']['KeyId'],
}

# --- paginators: more keys and aliases than fit a page of two -----------------------------------------------------
page_keys = [kms.create_key(Description=f'boto3 page {i}')['KeyMetadata']['KeyId'] for i in range(3)]
page_aliases = [f'alias/boto3-{run_id}-page-{i}' for i in range(5)]
for name in page_aliases:
    kms.create_alias(AliasName=name, TargetKeyId=page_keys[0])


def paginate(operation, item_key, **params):
    pages = list(kms.get_paginator(operation).paginate(PaginationConfig={'PageSize': 2}, **params))
    return {
        'page_sizes': [len(page[item_key]) for page in pages],
        'truncated_flags': [page['Truncated'] for page in pages],
        'items': [item for page in pages for item in page[item_key]],
    }


listed_keys = paginate('list_keys', 'Keys')
listed_aliases = paginate('list_aliases', 'Aliases', KeyId=page_keys[0])
all_aliases = paginate('list_aliases', 'Aliases')
results['list_keys'] = {
    'page_sizes': listed_keys['page_sizes'], 'truncated_flags': listed_keys['truncated_flags'],
    'key_ids': [key['KeyId'] for key in listed_keys['items']],
    'key_arns': [key['KeyArn'] for key in listed_keys['items']],
    'expected_key_ids': [key_id, second_key['KeyId'], *page_keys],
}
results['list_aliases_for_key'] = {
    'page_sizes': listed_aliases['page_sizes'], 'truncated_flags': listed_aliases['truncated_flags'],
    'alias_names': [alias['AliasName'] for alias in listed_aliases['items']],
    'target_key_ids': sorted({alias['TargetKeyId'] for alias in listed_aliases['items']}),
    'expected_alias_names': page_aliases,
}
# MaxItems stops mid-page; botocore then hands out its own NextToken (the marker plus how far into the page it got)
# and resumes from it with StartingToken.
first_part = kms.get_paginator('list_keys').paginate(PaginationConfig={'PageSize': 2, 'MaxItems': 3}).build_full_result()
rest_part = kms.get_paginator('list_keys').paginate(
    PaginationConfig={'PageSize': 2, 'StartingToken': first_part['NextToken']}).build_full_result()
results['list_keys_resumed'] = {
    'first_key_ids': [key['KeyId'] for key in first_part['Keys']],
    'rest_key_ids': [key['KeyId'] for key in rest_part['Keys']],
    'rest_has_next_token': 'NextToken' in rest_part,
}
results['list_aliases_all'] = {
    'page_count': len(all_aliases['page_sizes']),
    'alias_names': [alias['AliasName'] for alias in all_aliases['items']],
    'creation_dates': [timestamp(alias['CreationDate']) for alias in all_aliases['items'] if 'CreationDate' in alias],
}

# --- ECC_NIST_P256 signing key: sign, verify, get_public_key -----------------------------------------------------
signing_key = kms.create_key(KeySpec='ECC_NIST_P256', KeyUsage='SIGN_VERIFY')['KeyMetadata']
message = b'message signed through boto3'
signed = kms.sign(KeyId=signing_key['KeyId'], Message=message, MessageType='RAW', SigningAlgorithm='ECDSA_SHA_256')
verified = kms.verify(
    KeyId=signing_key['KeyId'], Message=message, MessageType='RAW', SigningAlgorithm='ECDSA_SHA_256',
    Signature=signed['Signature'],
)
public_key = kms.get_public_key(KeyId=signing_key['KeyId'])
results['sign_verify'] = {
    'create_KeySpec': signing_key['KeySpec'], 'create_KeyUsage': signing_key['KeyUsage'],
    'create_SigningAlgorithms': signing_key['SigningAlgorithms'], 'key_arn': signing_key['Arn'],
    'message': b64(message), 'sign_KeyId': signed['KeyId'], 'SigningAlgorithm': signed['SigningAlgorithm'],
    'Signature': b64(signed['Signature']),
    'verify_KeyId': verified['KeyId'], 'SignatureValid': verified['SignatureValid'],
    'PublicKey': b64(public_key['PublicKey']), 'public_KeySpec': public_key['KeySpec'],
    'public_KeyUsage': public_key['KeyUsage'], 'public_SigningAlgorithms': public_key['SigningAlgorithms'],
    'tampered_message': client_error(
        kms.verify, KeyId=signing_key['KeyId'], Message=message + b'!', MessageType='RAW',
        SigningAlgorithm='ECDSA_SHA_256', Signature=signed['Signature']),
}

# --- HMAC key: generate_mac / verify_mac -------------------------------------------------------------------------
mac_key = kms.create_key(KeySpec='HMAC_256', KeyUsage='GENERATE_VERIFY_MAC')['KeyMetadata']
mac_message = b'message maced through boto3'
mac = kms.generate_mac(KeyId=mac_key['KeyId'], Message=mac_message, MacAlgorithm='HMAC_SHA_256')
mac_verified = kms.verify_mac(KeyId=mac_key['KeyId'], Message=mac_message, MacAlgorithm='HMAC_SHA_256', Mac=mac['Mac'])
wrong_mac = bytes([mac['Mac'][0] ^ 1]) + mac['Mac'][1:]
results['mac'] = {
    'key_arn': mac_key['Arn'], 'MacAlgorithms': mac_key['MacAlgorithms'],
    'generate_KeyId': mac['KeyId'], 'MacAlgorithm': mac['MacAlgorithm'], 'mac_length': len(mac['Mac']),
    'verify_KeyId': mac_verified['KeyId'], 'MacValid': mac_verified['MacValid'],
    'wrong_mac': client_error(
        kms.verify_mac, KeyId=mac_key['KeyId'], Message=mac_message, MacAlgorithm='HMAC_SHA_256', Mac=wrong_mac),
}

# --- grants, tags and key policies through their paginators ----------------------------------------------------
grant_ids = [
    kms.create_grant(
        KeyId=key_id, GranteePrincipal=f'arn:aws:iam::111122223333:role/boto3-grantee-{i}', Operations=['Decrypt', 'Encrypt'],
        Constraints={'EncryptionContextSubset': {'app': 'boto3'}},
    )['GrantId']
    for i in range(3)
]
grants = paginate('list_grants', 'Grants', KeyId=key_id)
kms.tag_resource(KeyId=key_id, Tags=[{'TagKey': f'tag-{i}', 'TagValue': f'value-{i}'} for i in range(4)])
tags = paginate('list_resource_tags', 'Tags', KeyId=key_id)
policy_names = kms.get_paginator('list_key_policies').paginate(KeyId=key_id).build_full_result()['PolicyNames']
results['grants'] = {
    'created': grant_ids, 'page_sizes': grants['page_sizes'],
    'listed': [grant['GrantId'] for grant in grants['items']],
    'operations': [sorted(grant['Operations']) for grant in grants['items']],
    'constraints': [grant['Constraints'] for grant in grants['items']],
    'creation_dates': [timestamp(grant['CreationDate']) for grant in grants['items']],
}
results['tags'] = {'page_sizes': tags['page_sizes'], 'tags': tags['items']}
results['key_policy'] = {
    'policy_names': policy_names,
    'policy': json.loads(kms.get_key_policy(KeyId=key_id, PolicyName='default')['Policy']),
}

# --- rotation, random bytes and a data key pair ------------------------------------------------------------------
kms.enable_key_rotation(KeyId=key_id)
results['rotation_enabled'] = kms.get_key_rotation_status(KeyId=key_id)['KeyRotationEnabled']
results['random_length'] = len(kms.generate_random(NumberOfBytes=48)['Plaintext'])
pair = kms.generate_data_key_pair(KeyId=key_id, KeyPairSpec='ECC_NIST_P256', EncryptionContext=context)
results['data_key_pair'] = {
    'KeyId': pair['KeyId'], 'KeyPairSpec': pair['KeyPairSpec'], 'PublicKey': b64(pair['PublicKey']),
    'PrivateKeyPlaintext': b64(pair['PrivateKeyPlaintext']),
    'private_key_ciphertext_decrypts': kms.decrypt(
        CiphertextBlob=pair['PrivateKeyCiphertextBlob'], EncryptionContext=context)['Plaintext'] == pair['PrivateKeyPlaintext'],
}

# --- errors as botocore ClientErrors -----------------------------------------------------------------------------
missing_key_id = str(uuid.uuid4())
tampered = bytearray(encrypted['CiphertextBlob'])
tampered[-1] ^= 1
errors = {
    'missing_key': client_error(kms.describe_key, KeyId=missing_key_id),
    'missing_alias': client_error(kms.encrypt, KeyId=f'alias/boto3-{run_id}-missing', Plaintext=b'x'),
    'tampered_ciphertext': client_error(kms.decrypt, CiphertextBlob=bytes(tampered), EncryptionContext=context),
    'wrong_context': client_error(kms.decrypt, CiphertextBlob=encrypted['CiphertextBlob'], EncryptionContext={'app': 'other'}),
    # botocore checks minimums client-side but not maximums: 1025 bytes reaches the server.
    'too_many_bytes': client_error(kms.generate_data_key, KeyId=key_id, NumberOfBytes=1025),
    'spec_and_bytes': client_error(kms.generate_data_key, KeyId=key_id, KeySpec='AES_256', NumberOfBytes=32),
    'duplicate_alias': client_error(kms.create_alias, AliasName=alias_name, TargetKeyId=key_id),
    'sign_with_symmetric_key': client_error(
        kms.sign, KeyId=key_id, Message=b'x', MessageType='RAW', SigningAlgorithm='ECDSA_SHA_256'),
}
kms.disable_key(KeyId=second_key['KeyId'])
errors['disabled_key'] = client_error(kms.encrypt, KeyId=second_key['KeyId'], Plaintext=b'x')
results['disabled_state'] = kms.describe_key(KeyId=second_key['KeyId'])['KeyMetadata']['KeyState']
missing_error = kms.exceptions.NotFoundException
try:
    kms.describe_key(KeyId=missing_key_id)
    results['modeled_exception_class'] = None
except missing_error as error:
    results['modeled_exception_class'] = type(error).__name__
# Requests botocore signs with a wrong secret, or with an access key the server does not know.
wrong_secret = boto3.client(
    'kms', endpoint_url=os.environ['KMS_ENDPOINT_URL'], region_name='us-east-1', config=Config(retries={'max_attempts': 1}),
    aws_access_key_id=os.environ['AWS_ACCESS_KEY_ID'], aws_secret_access_key=os.environ['AWS_SECRET_ACCESS_KEY'] + 'x')
unknown_key = boto3.client(
    'kms', endpoint_url=os.environ['KMS_ENDPOINT_URL'], region_name='us-east-1', config=Config(retries={'max_attempts': 1}),
    aws_access_key_id='AKIAIOSFODNN7EXAMPLE', aws_secret_access_key='wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY')
errors['wrong_secret'] = client_error(wrong_secret.list_keys)
errors['unknown_access_key'] = client_error(unknown_key.list_keys)
results['errors'] = errors

# --- schedule_key_deletion: DeletionDate is another datetime botocore parses -----------------------------------
scheduled = kms.schedule_key_deletion(KeyId=page_keys[2], PendingWindowInDays=7)
pending = kms.describe_key(KeyId=page_keys[2])['KeyMetadata']
results['schedule_key_deletion'] = {
    'KeyState': scheduled['KeyState'], 'PendingWindowInDays': scheduled['PendingWindowInDays'],
    'DeletionDate': timestamp(scheduled['DeletionDate']),
    'described_KeyState': pending['KeyState'], 'described_DeletionDate': timestamp(pending['DeletionDate']),
}

print(json.dumps(results))
