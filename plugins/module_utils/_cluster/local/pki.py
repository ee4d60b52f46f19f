# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PKI for a local control plane, generated with ``cryptography``.

Two CAs (cluster and etcd) plus a front-proxy CA; ECDSA P-256 keys (fast to
generate, accepted by etcd, kube-apiserver and every client).  Private keys
are written 0600 through a temp file and a rename, so a crash never leaves a
half-written key behind.
"""

from __future__ import annotations

import datetime
import ipaddress
import os

from ansible_collections.adhar.platform.plugins.module_utils._common.files import atomic_write

try:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
    HAS_CRYPTOGRAPHY = True
    CRYPTOGRAPHY_IMPORT_ERROR = None
except ImportError as e:  # handled by the module's dependency check
    HAS_CRYPTOGRAPHY = False
    CRYPTOGRAPHY_IMPORT_ERROR = e

CA_DAYS = 3650


def _key():
    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def _name(cn, orgs=()):
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in orgs]
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    return x509.Name(attrs)


class CertAuthority:
    def __init__(self, key, cert):
        self.key = key
        self.cert = cert

    @classmethod
    def create(cls, cn, days=CA_DAYS):
        key = _key()
        now = datetime.datetime.now(datetime.timezone.utc)
        name = _name(cn)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_encipherment=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, data_encipherment=False, key_agreement=False,
                                         encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256())
        )
        return cls(key, cert)

    @classmethod
    def load(cls, cert_path, key_path):
        with open(cert_path, "rb") as f:
            cert = x509.load_pem_x509_certificate(f.read())
        with open(key_path, "rb") as f:
            key = serialization.load_pem_private_key(f.read(), password=None)
        return cls(key, cert)

    def save(self, cert_path, key_path):
        atomic_write(key_path, _key_pem(self.key), mode=0o600)
        atomic_write(cert_path, self.cert.public_bytes(serialization.Encoding.PEM), mode=0o644)

    def issue(self, cn, orgs=(), days=365, server=False, client=False, dns=(), ips=()):
        """Issue a leaf certificate; returns ``(key, cert)``."""
        key = _key()
        now = datetime.datetime.now(datetime.timezone.utc)
        usages = []
        if server:
            usages.append(ExtendedKeyUsageOID.SERVER_AUTH)
        if client:
            usages.append(ExtendedKeyUsageOID.CLIENT_AUTH)
        b = (
            x509.CertificateBuilder()
            .subject_name(_name(cn, orgs))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(min(now + datetime.timedelta(days=days), self.cert.not_valid_after_utc))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_encipherment=True, key_cert_sign=False, crl_sign=False,
                                         content_commitment=False, data_encipherment=False, key_agreement=False,
                                         encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), critical=False)
        )
        sans = [x509.DNSName(d) for d in dns] + [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
        if sans:
            b = b.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        return key, b.sign(self.key, hashes.SHA256())

    def issue_to(self, cert_path, key_path, cn, **kw):
        key, cert = self.issue(cn, **kw)
        atomic_write(key_path, _key_pem(key), mode=0o600)
        atomic_write(cert_path, cert.public_bytes(serialization.Encoding.PEM), mode=0o644)
        return cert


def service_ip(service_cidr):
    """The first address of the service range: the ``kubernetes`` Service's ClusterIP."""
    net = ipaddress.ip_network(service_cidr, strict=False)
    return str(net.network_address + 1)


def write_service_account_keys(key_path, pub_path):
    key = _key()
    atomic_write(key_path, _key_pem(key), mode=0o600)
    pub = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    atomic_write(pub_path, pub, mode=0o644)


def generate(pki_dir, *, members, service_cidr, days=365):
    """Create every certificate and key a local cluster needs under ``pki_dir``.

    ``members`` is the control-plane member count.  Returns the list of
    certificate paths (for expiry reporting).
    """
    os.makedirs(pki_dir, mode=0o700, exist_ok=True)

    def p(name):
        return os.path.join(pki_dir, name)

    ca = CertAuthority.create("adhar-cluster-ca")
    ca.save(p("ca.crt"), p("ca.key"))
    etcd_ca = CertAuthority.create("adhar-etcd-ca")
    etcd_ca.save(p("etcd-ca.crt"), p("etcd-ca.key"))
    fp_ca = CertAuthority.create("adhar-front-proxy-ca")
    fp_ca.save(p("front-proxy-ca.crt"), p("front-proxy-ca.key"))
    local = dict(dns=("localhost",), ips=("127.0.0.1", "::1"))
    for i in range(members):
        etcd_ca.issue_to(p("etcd-%d.crt" % i), p("etcd-%d.key" % i), "etcd-%d" % i, server=True, client=True, days=days,
                         **local)
    etcd_ca.issue_to(p("apiserver-etcd-client.crt"), p("apiserver-etcd-client.key"), "kube-apiserver-etcd-client",
                     client=True, days=days)
    etcd_ca.issue_to(p("etcd-healthcheck-client.crt"), p("etcd-healthcheck-client.key"), "adhar-etcd-healthcheck",
                     client=True, days=days)
    svc = ("kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local")
    ca.issue_to(p("apiserver.crt"), p("apiserver.key"), "kube-apiserver", server=True, days=days,
                dns=("localhost",) + svc, ips=("127.0.0.1", "::1", service_ip(service_cidr)))
    ca.issue_to(p("admin.crt"), p("admin.key"), "adhar-admin", orgs=("system:masters",), client=True, days=days)
    ca.issue_to(p("controller-manager.crt"), p("controller-manager.key"), "system:kube-controller-manager", client=True,
                days=days)
    ca.issue_to(p("scheduler.crt"), p("scheduler.key"), "system:kube-scheduler", client=True, days=days)
    ca.issue_to(p("kwok.crt"), p("kwok.key"), "adhar-kwok-controller", orgs=("system:masters",), client=True, days=days)
    ca.issue_to(p("kwok-serving.crt"), p("kwok-serving.key"), "kwok-controller", server=True, days=days, **local)
    fp_ca.issue_to(p("front-proxy-client.crt"), p("front-proxy-client.key"), "front-proxy-client", client=True, days=days)
    write_service_account_keys(p("sa.key"), p("sa.pub"))
    return sorted(os.path.join(pki_dir, f) for f in os.listdir(pki_dir) if f.endswith(".crt"))


def cert_not_after(path):
    with open(path, "rb") as f:
        return x509.load_pem_x509_certificate(f.read()).not_valid_after_utc
