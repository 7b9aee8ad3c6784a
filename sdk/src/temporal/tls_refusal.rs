//! Why a TLS server refused us. In TLS 1.3 the server judges the client's certificate only after
//! the client has finished its side of the handshake, so the server's alert (no certificate, one
//! from a CA it does not trust) arrives on the client's first read, inside the gRPC
//! connection's task, and the call itself only sees "connection closed". When connecting over
//! TLS fails, [`tls_refusal`] makes one handshake of its own with the same settings and reads
//! that alert, so the error can name it.

use std::sync::Arc;
use std::time::Duration;

use temporalio_client::TlsOptions;
use temporalio_client::Url;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::crypto::ring;
use tokio_rustls::rustls::pki_types::pem::PemObject as _;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio_rustls::rustls::{ClientConfig, RootCertStore};

/// How long each step of the check may take.
const STEP_TIMEOUT: Duration = Duration::from_secs(3);

/// The start of every HTTP/2 connection: something for the server to answer, or refuse.
const HTTP2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// What the TLS server at `target` says to a client with `tls`'s settings, when it refuses it;
/// `None` when it accepts it, or when the check cannot be made (no CA given: the system's roots
/// are the TLS stack's business, not ours to copy).
pub async fn tls_refusal(target: &Url, tls: &TlsOptions) -> Option<String> {
    let ca = tls.server_root_ca_cert.as_deref()?;
    let host = target.host_str()?;
    let port = target.port_or_known_default()?;
    let mut roots = RootCertStore::empty();
    for certificate in CertificateDer::pem_slice_iter(ca) {
        roots.add(certificate.ok()?).ok()?;
    }
    let builder = ClientConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_safe_default_protocol_versions()
        .ok()?
        .with_root_certificates(roots);
    let mut config = match &tls.client_tls_options {
        Some(client) => {
            let chain = CertificateDer::pem_slice_iter(&client.client_cert)
                .collect::<Result<Vec<_>, _>>()
                .ok()?;
            let key = PrivateKeyDer::from_pem_slice(&client.client_private_key).ok()?;
            match builder.with_client_auth_cert(chain, key) {
                Ok(config) => config,
                Err(e) => return Some(format!("the client certificate or key is unusable: {e}")),
            }
        }
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"h2".to_vec()];
    let name = ServerName::try_from(tls.domain.clone().unwrap_or_else(|| host.to_owned())).ok()?;
    let tcp = tokio::time::timeout(STEP_TIMEOUT, TcpStream::connect((host, port)))
        .await
        .ok()?
        .ok()?;
    let handshake = TlsConnector::from(Arc::new(config)).connect(name, tcp);
    let mut stream = match tokio::time::timeout(STEP_TIMEOUT, handshake).await.ok()? {
        Ok(stream) => stream,
        Err(e) => return Some(e.to_string()),
    };
    if let Err(e) = stream.write_all(HTTP2_PREFACE).await {
        return Some(e.to_string());
    }
    let mut answer = [0_u8; 64];
    match tokio::time::timeout(STEP_TIMEOUT, stream.read(&mut answer)).await {
        Ok(Err(e)) => Some(e.to_string()),
        _ => None,
    }
}
