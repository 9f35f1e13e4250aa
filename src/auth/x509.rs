//! Client-certificate authentication, as kube-apiserver's `--client-ca-file` does it: the TLS
//! handshake verifies the client's certificate against podgate's CA (chain, validity, client-auth
//! usage) and the subject names the user — CN is the user name, each O a group.
//!
//! Certificates are optional: a client without one authenticates with a token; a client whose
//! certificate does not verify fails the handshake, as Go's `VerifyClientCertIfGiven` does.

use std::sync::Arc;

use rustls::pki_types::CertificateDer;

use super::tokens::UserInfo;

/// The verified certificate a client presented, as a request extension (set per connection).
#[derive(Debug, Clone)]
pub struct ClientCertificate(pub Arc<CertificateDer<'static>>);

impl ClientCertificate {
    /// The user the certificate names, if its subject has a common name.
    pub fn user(&self) -> Option<UserInfo> {
        user_from_der(self.0.as_ref())
    }
}

/// CN = user, O = groups; `None` without a CN (upstream refuses those) or for unparsable DER.
pub fn user_from_der(der: &[u8]) -> Option<UserInfo> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let subject = cert.subject();
    let name = subject
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .filter(|cn| !cn.is_empty())?
        .to_string();
    let groups = subject
        .iter_organization()
        .filter_map(|o| o.as_str().ok())
        .map(String::from)
        .collect();
    Some(UserInfo::new(name, groups))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{CertificateParams, DnType, KeyPair};
    use rustls::pki_types::pem::PemObject;

    /// `openssl req -x509 -newkey ed25519 -subj "/CN=bob/O=system:masters/O=devs"`: rcgen keeps
    /// one value per attribute type, so the two-O subject comes from openssl.
    const TWO_ORGS: &str = "-----BEGIN CERTIFICATE-----
MIIBgzCCATWgAwIBAgIUUsOT2RrAYmfdNBfXWA/WINghtXQwBQYDK2VwMDYxDDAK
BgNVBAMMA2JvYjEXMBUGA1UECgwOc3lzdGVtOm1hc3RlcnMxDTALBgNVBAoMBGRl
dnMwIBcNMjYxMTIxMjIwMjE4WhgPMjEyNjEwMjgyMjAyMThaMDYxDDAKBgNVBAMM
A2JvYjEXMBUGA1UECgwOc3lzdGVtOm1hc3RlcnMxDTALBgNVBAoMBGRldnMwKjAF
BgMrZXADIQCkYFCq3DlJOVweBS6Cz2c6EuY+3Vs4WEx5j9D04G34jaNTMFEwHQYD
VR0OBBYEFEKBNcIXBr1+E6xA/UOJ1SrZ26NRMB8GA1UdIwQYMBaAFEKBNcIXBr1+
E6xA/UOJ1SrZ26NRMA8GA1UdEwEB/wQFMAMBAf8wBQYDK2VwA0EADGnU6nGVW2xd
svCWKEA9Nm8jewSvte8KJBtWN0ih98XU//CS6j5yyjUlfo1gTy6LEzoVBTmRFv6+
hliSJEEUDA==
-----END CERTIFICATE-----
";

    fn cert(cn: Option<&str>, org: Option<&str>) -> Vec<u8> {
        let mut p = CertificateParams::default();
        p.distinguished_name = rcgen::DistinguishedName::new();
        if let Some(cn) = cn {
            p.distinguished_name.push(DnType::CommonName, cn);
        }
        if let Some(o) = org {
            p.distinguished_name.push(DnType::OrganizationName, o);
        }
        p.self_signed(&KeyPair::generate().unwrap())
            .unwrap()
            .der()
            .to_vec()
    }

    #[test]
    fn subject_names_user_and_groups() {
        let u = user_from_der(&cert(Some("alice"), None)).unwrap();
        assert_eq!(u.name, "alice");
        assert!(u.groups.is_empty());
        let u = user_from_der(&cert(Some("carol"), Some("ops"))).unwrap();
        assert_eq!(u.groups, ["ops"]);
        let two = CertificateDer::from_pem_slice(TWO_ORGS.as_bytes()).unwrap();
        let u = ClientCertificate(Arc::new(two)).user().unwrap();
        assert_eq!(u.name, "bob");
        assert_eq!(u.groups, ["system:masters", "devs"]);
        assert!(
            user_from_der(&cert(None, Some("ops"))).is_none(),
            "no CN, no user"
        );
        assert!(user_from_der(b"not der").is_none());
    }
}
