"""The local broker's TLS under `--kafka-auth scram`: a certificate authority of the state folder's own and a
broker certificate for 127.0.0.1 it signs, made once with the `cryptography` package, as PEM files Kafka
reads directly (a PEM keystore and truststore: no keytool step). Clients check the broker against the CA,
as on Kubernetes they check Strimzi's brokers against the cluster CA."""
from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

VALID_DAYS = 3650  # a local CA; the state folder is thrown away long before


@dataclass(frozen=True)
class Certificates:
    ca: Path  # the CA's certificate (PEM): what clients trust
    keystore: Path  # the broker's private key and certificate chain (PEM), readable by its owner only


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "riskstream local stack"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)


def folder(state_dir: Path) -> Path:
    """Where a stack's broker keeps its CA and keystore (under the broker's own folder)."""
    return state_dir / "kafka" / "tls"


def files(folder: Path) -> Certificates:
    """The CA's and the keystore's paths in `folder`, made or not."""
    return Certificates(folder / "ca.crt", folder / "broker.pem")


def ensure(folder: Path) -> Certificates:
    """The CA and the broker's keystore in `folder`, made on first use."""
    found = files(folder)
    if found.ca.exists() and found.keystore.exists():
        return found
    now = datetime.datetime.now(datetime.timezone.utc)
    until = now + datetime.timedelta(days=VALID_DAYS)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(_name("riskstream local CA")).issuer_name(_name("riskstream local CA"))
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now).not_valid_after(until)
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    broker = (x509.CertificateBuilder().subject_name(_name("127.0.0.1")).issuer_name(ca.subject)
              .public_key(key.public_key()).serial_number(x509.random_serial_number())
              .not_valid_before(now).not_valid_after(until)
              .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                          x509.DNSName("localhost")]), critical=False)
              .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH,
                                                    x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
              .sign(ca_key, hashes.SHA256()))
    folder.mkdir(parents=True, exist_ok=True)
    found.keystore.touch(mode=0o600)
    found.keystore.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                 serialization.NoEncryption()) + _pem(broker) + _pem(ca))
    found.ca.write_bytes(_pem(ca))
    return found
