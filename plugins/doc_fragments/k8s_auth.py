# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# Mirrors K8S_AUTH_ARG_SPEC in plugins/module_utils/_common/args.py option for
# option (tests/unit/plugins/module_utils/test_args_common.py checks it).

from __future__ import annotations


class ModuleDocFragment:

    DOCUMENTATION = r"""
options:
  kubeconfig:
    description:
      - The kubeconfig to connect with, either the path of a kubeconfig file or the content of a kubeconfig as a dictionary.
      - A path may list several files separated by V(:), like E(KUBECONFIG).
      - When neither O(kubeconfig) nor O(host) is set, the files named by the E(KUBECONFIG) environment variable
        (default C(~/.kube/config)) are used, and when none exists the in-cluster service account.
      - Credentials found in a kubeconfig given as a dictionary are hidden from the output.
      - Can also be set with the E(K8S_AUTH_KUBECONFIG) environment variable.
    type: raw
  context:
    description:
      - The kubeconfig context to use instead of its C(current-context).
      - Can also be set with the E(K8S_AUTH_CONTEXT) environment variable.
    type: str
  host:
    description:
      - URL of the Kubernetes API server, for example V(https://10.0.0.10:6443).
      - When set without O(kubeconfig) or O(context), no kubeconfig is read and the connection is built from O(api_key),
        O(client_cert), O(client_key), O(ca_cert) and O(validate_certs) alone.
      - When set together with a kubeconfig, it overrides the server the kubeconfig names.
      - Can also be set with the E(K8S_AUTH_HOST) environment variable.
    type: str
  api_key:
    description:
      - A bearer token to authenticate with. It overrides any credential from the kubeconfig.
      - Can also be set with the E(K8S_AUTH_API_KEY) environment variable.
    type: str
  validate_certs:
    description:
      - Whether to verify the API server's TLS certificate.
      - When not set, the kubeconfig decides (C(insecure-skip-tls-verify)), and verification is on otherwise.
      - Can also be set with the E(K8S_AUTH_VERIFY_SSL) environment variable.
    type: bool
    aliases: [verify_ssl]
  ca_cert:
    description:
      - Path of a CA certificate bundle used to verify the API server's certificate.
      - Can also be set with the E(K8S_AUTH_SSL_CA_CERT) environment variable.
    type: path
    aliases: [ssl_ca_cert]
  client_cert:
    description:
      - Path of a client certificate to authenticate with.
      - Can also be set with the E(K8S_AUTH_CERT_FILE) environment variable.
    type: path
    aliases: [cert_file]
  client_key:
    description:
      - Path of the private key of O(client_cert).
      - Can also be set with the E(K8S_AUTH_KEY_FILE) environment variable.
    type: path
    aliases: [key_file]
  request_timeout:
    description:
      - Seconds one HTTP request to the API server may take before it is abandoned (and retried, see O(api_retry_deadline)).
      - V(0) means no limit.
      - A negative value is an error.
    type: float
    default: 30
  api_retry_deadline:
    description:
      - Overall seconds spent retrying one API call that fails for a transient reason (throttling, server errors, connection errors,
        etcd leader changes), with jittered exponential backoff.
      - Errors that retrying cannot fix (such as V(403) or V(404)) are never retried.
      - V(0) disables retries.
      - A negative value is an error.
    type: float
    default: 120
notes:
  - The O(kubeconfig), O(ca_cert), O(client_cert) and O(client_key) files are read where the module runs.
"""
