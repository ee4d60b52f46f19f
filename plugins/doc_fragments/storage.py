# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# DOCUMENTATION mirrors STORAGE_ARG_SPEC (plugins/module_utils/_storage/params.py) and
# ENCRYPTION mirrors ENCRYPTION_ARG_SPEC and VERIFICATION mirrors VERIFY_ARG_SPEC (plugins/module_utils/_dr/crypto_envelope.py),
# option for option (tests/unit/plugins/module_utils/test_storage_params.py checks it).
# Use as adhar.platform.storage, adhar.platform.storage.encryption and adhar.platform.storage.verification.

from __future__ import annotations


class ModuleDocFragment:

    DOCUMENTATION = r"""
options:
  storage:
    description:
      - Where backups are written and read. Required by M(adhar.platform.backup), M(adhar.platform.backup_info) and
        M(adhar.platform.restore), and by M(adhar.platform.db) for export and import.
      - Either O(storage.url), or O(storage.type) with O(storage.path) (type V(local)) or O(storage.bucket) and
        O(storage.prefix) (type V(s3)).
      - The C(storage) block of an adhar config (C(type), C(path), C(bucket), C(prefix), C(region), C(endpoint)) can be
        passed as it is.
      - Objects are written once and never replaced; the manifest of a backup is written last, so a backup interrupted
        at any point is never listed as complete, and S3 versioning and Object Lock can be used.
    type: dict
    suboptions:
      url:
        description:
          - The location as a URL, V(file:///path/to/dir) for a local directory or V(s3://bucket/prefix) for S3.
          - Cannot be combined with O(storage.type), O(storage.path), O(storage.bucket) or O(storage.prefix).
        type: str
      type:
        description:
          - V(local) for a directory, V(s3) for an S3 bucket (AWS or an S3-compatible endpoint).
          - Defaults to V(s3) when O(storage.bucket) is set and V(local) when O(storage.path) is set.
        type: str
        choices: [local, s3]
      path:
        description:
          - The directory holding the backups (type V(local)); created with mode C(0700) when missing.
        type: path
      bucket:
        description:
          - The bucket (type V(s3)). It must exist.
        type: str
      prefix:
        description:
          - Key prefix inside the bucket under which backups are stored (type V(s3)).
        type: str
      region:
        description:
          - AWS region of the bucket (type V(s3)). When not set, boto3's usual sources apply (E(AWS_REGION), the profile).
        type: str
      endpoint_url:
        description:
          - URL of an S3-compatible endpoint (MinIO, Ceph, moto) instead of AWS (type V(s3)).
        type: str
        aliases: [endpoint]
      aws_access_key_id:
        description:
          - AWS access key id (type V(s3)). When not set, boto3's credential chain applies (environment, O(storage.profile),
            shared credentials, instance or pod role).
        type: str
        aliases: [access_key]
      aws_secret_access_key:
        description:
          - AWS secret access key that goes with O(storage.aws_access_key_id).
        type: str
        aliases: [secret_key]
      aws_session_token:
        description:
          - AWS session token for temporary credentials.
        type: str
        aliases: [session_token]
      profile:
        description:
          - Name of an AWS profile from the shared configuration files (type V(s3)).
          - Cannot be combined with O(storage.aws_access_key_id).
        type: str
      validate_certs:
        description:
          - Whether to verify the TLS certificate of the S3 endpoint.
        type: bool
        default: true
"""

    ENCRYPTION = r"""
options:
  encryption:
    description:
      - Client-side envelope encryption. Each backup gets a fresh random AES-256 data key, stored only wrapped by the key
        given here (or by AWS KMS); items are encrypted with AES-256-GCM before they leave this host.
      - Give at most one of O(encryption.key), O(encryption.key_file), O(encryption.key_env) and O(encryption.kms_key_id).
      - A key is exactly 32 bytes, given as base64 text (for example from C(openssl rand -base64 32)); a key file may also
        hold the 32 raw bytes. Nothing is derived from passphrases; a key of another length is refused.
      - "Reading an encrypted backup with another key fails with C(cannot decrypt: wrong key or tampered data)."
    type: dict
    suboptions:
      key:
        description:
          - The key-encryption key as base64 text.
        type: str
      key_file:
        description:
          - Path of a file holding the key-encryption key (32 raw bytes, or base64 text).
        type: path
      key_env:
        description:
          - Name of an environment variable (on the host running the module) holding the key-encryption key as base64 text.
        type: str
      kms_key_id:
        description:
          - An AWS KMS key (id, ARN or alias) that wraps the data key instead of a local key; the backup name is the KMS
            encryption context.
          - Credentials are those of an O(storage) of type V(s3) when it gives them, otherwise boto3's credential chain.
          - When reading, it may be left out; the key recorded in the backup is used.
        type: str
      kms_region:
        description:
          - AWS region of the KMS key; defaults to O(storage.region).
        type: str
      kms_endpoint_url:
        description:
          - URL of a KMS-compatible endpoint instead of AWS.
        type: str
      kms_profile:
        description:
          - AWS profile for KMS; defaults to O(storage.profile).
        type: str
"""

    VERIFICATION = r"""
options:
  verify_key:
    description:
      - The Ed25519 public key (base64) that checks the signature of a backup's manifest, as M(adhar.platform.backup)
        returns it (RV(adhar.platform.backup#module:backup.verify_key)). It is not secret and cannot decrypt anything.
      - With it the manifest, and through its checksums every unencrypted item, is checked without the encryption key,
        so the unencrypted items of an encrypted backup can be verified and restored; its encrypted items need
        O(encryption).
      - A backup not signed by this key (another key, an edited manifest, a removed signature, a backup wrapped by AWS
        KMS, which carries no signature) is refused before any item is read. The public key recorded in a backup is
        never trusted by itself.
    type: str
  require_signature:
    description:
      - Refuse a backup whose manifest is not authenticated with a key given here (checked by O(verify_key), or by the
        MAC and signature with O(encryption)); without this, an unencrypted, unsigned backup read with no key is
        accepted on its checksums alone, with a warning (C(integrity=checksums-only)).
      - Needs O(verify_key) or O(encryption).
    type: bool
    default: false
"""
