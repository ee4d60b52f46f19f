# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The mesh's shared CA and the certificates issued from it.

The CA lives where Cilium keeps it: Secret ``cilium-ca`` (keys ``ca.crt`` and ``ca.key``) in the Cilium namespace of
every member.  It is read from the members, or taken from the task (``mesh_ca_cert``/``mesh_ca_key``), or generated once when
no member has one; then written to the members that lack it.
"""

from __future__ import annotations

import base64
import hashlib
import os

from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharError

SECRET = "cilium-ca"


def fingerprint(cert_pem):
    """SHA-256 of a PEM certificate's DER bytes (hex), or None."""
    if not cert_pem:
        return None
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    try:
        cert = x509.load_pem_x509_certificate(cert_pem.encode() if isinstance(cert_pem, str) else cert_pem)
    except ValueError as exc:
        raise AdharError("a ClusterMesh CA certificate is not PEM: %s" % exc) from exc
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


def read_secret(client, namespace):
    """``{"cert": pem, "key": pem}`` of Secret cilium-ca, or None when there is none."""
    status, data = client.raw("GET", "/api/v1/namespaces/%s/secrets/%s" % (namespace, SECRET), raise_for_status=False)
    if status == 404:
        return None
    if status != 200 or not isinstance(data, dict):
        raise AdharError("cannot read Secret %s/%s: HTTP %s" % (namespace, SECRET, status))
    d = data.get("data") or {}
    if not d.get("ca.crt"):
        return None
    return {"cert": base64.b64decode(d["ca.crt"]).decode(),
            "key": base64.b64decode(d["ca.key"]).decode() if d.get("ca.key") else None}


def remove_ours(client, namespace, check_mode=False):
    """Delete Secret cilium-ca when the mesh wrote it (label managed-by adhar); a Cilium release's is left alone.
    Returns True when it was (or would be) removed."""
    path = "/api/v1/namespaces/%s/secrets/%s" % (namespace, SECRET)
    status, data = client.raw("GET", path, raise_for_status=False)
    if status != 200 or not isinstance(data, dict):
        return False
    labels = (data.get("metadata") or {}).get("labels") or {}
    if labels.get("app.kubernetes.io/managed-by") != "adhar":
        return False
    if not check_mode:
        client.raw("DELETE", path, raise_for_status=False)
    return True


def secret_object(namespace, ca):
    return {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": {"name": SECRET, "namespace": namespace,
                         "labels": {"app.kubernetes.io/part-of": "cilium", "app.kubernetes.io/managed-by": "adhar"}},
            "data": {"ca.crt": base64.b64encode(ca["cert"].encode()).decode(),
                     "ca.key": base64.b64encode(ca["key"].encode()).decode()}}


def generate():
    """A new ECDSA CA for the mesh: ``{"cert": pem, "key": pem}``."""
    from cryptography.hazmat.primitives import serialization
    from ansible_collections.adhar.platform.plugins.module_utils._cluster.local.pki import CertAuthority, _key_pem
    ca = CertAuthority.create("adhar-clustermesh-ca")
    return {"cert": ca.cert.public_bytes(serialization.Encoding.PEM).decode(), "key": _key_pem(ca.key).decode()}


def authority(ca):
    """A ``local.pki.CertAuthority`` from ``{"cert", "key"}`` PEM strings."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from ansible_collections.adhar.platform.plugins.module_utils._cluster.local.pki import CertAuthority
    if not ca.get("key"):
        raise AdharError("the ClusterMesh CA (Secret cilium-ca) has no private key (ca.key); certificates cannot be "
                         "issued from it", rule="shared_ca")
    cert = x509.load_pem_x509_certificate(ca["cert"].encode())
    key = serialization.load_pem_private_key(ca["key"].encode(), password=None)
    return CertAuthority(key, cert)


def load_given(cert_path, key_path):
    """The task's own CA (``mesh_ca_cert``/``mesh_ca_key`` files)."""
    out = {}
    for part, path, option in (("cert", cert_path, "mesh_ca_cert"), ("key", key_path, "mesh_ca_key")):
        try:
            with open(os.path.expanduser(path)) as f:
                out[part] = f.read()
        except OSError as exc:
            raise AdharError("%s: cannot read %s: %s" % (option, path, exc.strerror or exc), option=option) from exc
    fingerprint(out["cert"])
    return out


def issued_by(cert_path, ca_cert_pem):
    """True when the certificate file exists and was signed by the CA (checked by the issuer's signature)."""
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature
    try:
        with open(cert_path, "rb") as f:
            cert = x509.load_pem_x509_certificate(f.read())
        cert.verify_directly_issued_by(x509.load_pem_x509_certificate(ca_cert_pem.encode()))
        return True
    except (OSError, ValueError, TypeError, InvalidSignature):
        return False
