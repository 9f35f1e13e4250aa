//! TLS for podgate (rustls with the ring provider only): the serving configurations of the
//! gateway and the client configurations the gateway and the node agent dial pods with. It uses
//! only `secrets`.
//!
//! `podgate up` keeps a local CA in its state dir (created on first start, key mode 0600) and
//! issues a fresh serving certificate for the listen address at every start, as k3s does; the
//! kubeconfig carries the CA, so kubectl verifies the server and sends its token. With
//! `--tls-cert-file`/`--tls-private-key-file` it serves that certificate instead. Either way,
//! clients may present a certificate issued by the local CA to authenticate (CN = user,
//! O = groups; see [`crate::auth::x509`]).

use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject};

use crate::secrets::write_secret;

/// The CA's common name.
const CA_NAME: &str = "podgate-ca";

/// A CA certificate and the server configuration whose certificate it signed.
pub struct LocalTls {
    /// PEM of the CA certificate (what clients trust).
    pub ca_pem: String,
    /// The server side of TLS, ALPN h2 and http/1.1.
    pub server_config: Arc<rustls::ServerConfig>,
}

fn ca_params() -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name.push(DnType::CommonName, CA_NAME);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.not_before = rcgen::date_time_ymd(2024, 1, 1);
    params.not_after = rcgen::date_time_ymd(2124, 1, 1);
    params
}

/// The CA in `state_dir`: its PEM and key, created on first use.
fn load_or_create_ca(state_dir: &Path) -> anyhow::Result<(String, KeyPair)> {
    let cert_path = state_dir.join("ca.crt");
    let key_path = state_dir.join("ca.key");
    match (
        std::fs::read_to_string(&cert_path),
        std::fs::read_to_string(&key_path),
    ) {
        (Ok(cert), Ok(key)) => Ok((cert, KeyPair::from_pem(&key).context("reading ca.key")?)),
        _ => {
            let key = KeyPair::generate()?;
            let cert = ca_params().self_signed(&key)?;
            write_secret(&key_path, key.serialize_pem().as_bytes())?;
            std::fs::write(&cert_path, cert.pem())?;
            Ok((cert.pem(), key))
        }
    }
}

/// Loads the CA from `state_dir` (creating it on first use) and issues a serving certificate
/// for `hosts` (names or IP addresses); clients may authenticate with certificates of the CA.
pub fn local_ca(state_dir: &Path, hosts: &[String]) -> anyhow::Result<LocalTls> {
    let (ca_pem, ca_key) = load_or_create_ca(state_dir)?;
    let issuer = Issuer::new(ca_params(), ca_key);

    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params
        .distinguished_name
        .push(DnType::CommonName, "podgate");
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    for host in hosts {
        let san = match host.parse::<IpAddr>() {
            Ok(ip) => rcgen::SanType::IpAddress(ip),
            Err(_) => rcgen::SanType::DnsName(host.clone().try_into()?),
        };
        if !params.subject_alt_names.contains(&san) {
            params.subject_alt_names.push(san);
        }
    }
    let key = KeyPair::generate()?;
    let cert = params.signed_by(&key, &issuer)?;
    let chain = vec![CertificateDer::from(cert.der().to_vec())];
    let private = PrivateKeyDer::from_pem_slice(key.serialize_pem().as_bytes())?;
    let client_ca = pem_certs(ca_pem.as_bytes())?;
    Ok(LocalTls {
        server_config: server_config(chain, private, Some(&client_ca))?,
        ca_pem,
    })
}

/// TLS for `podgate up`: the given certificate files, or one issued by the local CA for
/// `hosts`. Client certificates of the local CA authenticate either way. `ca_pem` is what the
/// kubeconfig trusts: the local CA, or the last certificate of the given chain.
pub fn for_up(
    state_dir: &Path,
    hosts: &[String],
    files: Option<(&Path, &Path)>,
) -> anyhow::Result<LocalTls> {
    let Some((cert, key)) = files else {
        return local_ca(state_dir, hosts);
    };
    let (local_pem, _) = load_or_create_ca(state_dir)?;
    let chain = CertificateDer::pem_file_iter(cert)
        .with_context(|| format!("reading {}", cert.display()))?
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("reading {}", cert.display()))?;
    let Some(top) = chain.last() else {
        anyhow::bail!("{} holds no certificate", cert.display());
    };
    let ca_pem = pem_encode_cert(top);
    let private =
        PrivateKeyDer::from_pem_file(key).with_context(|| format!("reading {}", key.display()))?;
    let client_ca = pem_certs(local_pem.as_bytes())?;
    Ok(LocalTls {
        server_config: server_config(chain, private, Some(&client_ca))?,
        ca_pem,
    })
}

fn pem_certs(pem: &[u8]) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    Ok(CertificateDer::pem_slice_iter(pem).collect::<Result<Vec<_>, _>>()?)
}

/// A certificate as PEM text.
fn pem_encode_cert(der: &CertificateDer<'_>) -> String {
    let pem = pem::Pem::new("CERTIFICATE", der.as_ref());
    pem::encode_config(
        &pem,
        pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
    )
}

/// A server config for a certificate chain and key from PEM files.
pub fn from_files(cert: &Path, key: &Path) -> anyhow::Result<Arc<rustls::ServerConfig>> {
    let chain = CertificateDer::pem_file_iter(cert)
        .with_context(|| format!("reading {}", cert.display()))?
        .collect::<Result<Vec<_>, _>>()?;
    let private =
        PrivateKeyDer::from_pem_file(key).with_context(|| format!("reading {}", key.display()))?;
    server_config(chain, private, None)
}

/// A server config; with `client_ca`, clients may present a certificate it issued.
fn server_config(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    client_ca: Option<&[CertificateDer<'static>]>,
) -> anyhow::Result<Arc<rustls::ServerConfig>> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?;
    let builder = match client_ca {
        Some(ca) => builder.with_client_cert_verifier(optional_client_verifier(ca, provider)?),
        None => builder.with_no_client_auth(),
    };
    let mut config = builder.with_single_cert(chain, key)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// An HTTPS connector for pod backends that does not verify the pod's certificate, as the API
/// server's pod and service proxy does not (pods rarely have certificates a client can check).
pub fn insecure_https_connector(
    http: hyper_util::client::legacy::connect::HttpConnector,
) -> hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector> {
    hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(insecure_client_config())
        .https_or_http()
        .enable_http1()
        .wrap_connector(http)
}

/// A client config that accepts any server certificate (but checks the handshake signature),
/// for pods: the API server's proxy and the kubelet's HTTPS probes do not verify pod certificates.
pub fn insecure_client_config() -> rustls::ClientConfig {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map(|b| {
            b.dangerous()
                .with_custom_certificate_verifier(Arc::new(AcceptAnyServerCert(provider)))
                .with_no_client_auth()
        })
        .unwrap_or_else(|_| unreachable!("ring supports the default protocol versions"))
}

/// Accepts any server certificate, but still checks that the handshake was signed by it.
#[derive(Debug)]
struct AcceptAnyServerCert(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AcceptAnyServerCert {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// A verifier that accepts clients without a certificate and checks the certificates of those
/// that send one against `ca` (DER).
pub fn optional_client_verifier(
    ca: &[CertificateDer<'static>],
    provider: Arc<rustls::crypto::CryptoProvider>,
) -> anyhow::Result<Arc<dyn rustls::server::danger::ClientCertVerifier>> {
    let mut roots = rustls::RootCertStore::empty();
    for c in ca {
        roots.add(c.clone())?;
    }
    Ok(
        rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
            .allow_unauthenticated()
            .build()?,
    )
}
