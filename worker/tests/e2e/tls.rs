//! mTLS to Temporal, configured only by Temporal's standard client settings (`TEMPORAL_TLS_*`):
//! with a client certificate from the server's CA, a worker runs a process to completion and
//! `acme` reads it; with no client certificate, or one from another CA, both refuse to start
//! with an error naming the TLS problem.
//!
//! The `temporal` dev server cannot serve TLS (`start-dev` has no TLS flags), so the test puts
//! a TLS-terminating proxy that requires client certificates in front of it, as a load balancer
//! or gateway does in front of a Temporal cluster: rustls (the TLS stack the Temporal client
//! itself uses) with the client verifier of webpki, forwarding the decrypted gRPC to the dev
//! server. Certificates are made for the test by `openssl`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::Arc;

use acme_workflows::invest_cash;
use serde_json::{Value, json};
use temporalio_client::WorkflowGetResultOptions;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::crypto::ring;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::server::WebPkiClientVerifier;
use tokio_rustls::rustls::{RootCertStore, ServerConfig};

use crate::cli::acme_binary;
use crate::support::{Platform, on_local_set};

/// The name the proxy's certificate is issued to (`TEMPORAL_TLS_SERVER_NAME`); the address is
/// 127.0.0.1, so the client must be told which name to verify.
const SERVER_NAME: &str = "temporal.acme.test";

/// Test certificates in a folder of their own: a CA with a server and a client certificate,
/// and a client certificate from another CA.
struct Certificates {
    folder: PathBuf,
}

impl Certificates {
    fn make() -> Self {
        let folder = std::env::temp_dir().join(format!("acme-tls-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&folder).unwrap();
        let certificates = Self { folder };
        certificates.authority("ca");
        certificates.issue("ca", "server", SERVER_NAME, "serverAuth");
        certificates.issue("ca", "client", "acme-worker", "clientAuth");
        certificates.authority("other-ca");
        certificates.issue("other-ca", "stranger", "acme-worker", "clientAuth");
        certificates
    }

    fn path(&self, name: &str, kind: &str) -> PathBuf {
        self.folder.join(format!("{name}.{kind}"))
    }

    fn text(&self, name: &str, kind: &str) -> String {
        self.path(name, kind).display().to_string()
    }

    fn openssl(&self, args: &[&str]) {
        let output = std::process::Command::new("openssl")
            .args(args)
            .current_dir(&self.folder)
            .output()
            .expect("openssl is needed to make the test's certificates");
        assert!(
            output.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    fn authority(&self, name: &str) {
        self.openssl(&[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-days",
            "1",
            "-subj",
            &format!("/CN=acme test {name}"),
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
            "-keyout",
            &self.text(name, "key"),
            "-out",
            &self.text(name, "pem"),
        ]);
    }

    fn issue(&self, authority: &str, name: &str, common_name: &str, usage: &str) {
        self.openssl(&[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-subj",
            &format!("/CN={common_name}"),
            "-keyout",
            &self.text(name, "key"),
            "-out",
            &self.text(name, "csr"),
        ]);
        let extensions = self.path(name, "ext");
        std::fs::write(
            &extensions,
            format!("subjectAltName=DNS:{common_name}\nextendedKeyUsage={usage}\n"),
        )
        .unwrap();
        self.openssl(&[
            "x509",
            "-req",
            "-days",
            "1",
            "-in",
            &self.text(name, "csr"),
            "-CA",
            &self.text(authority, "pem"),
            "-CAkey",
            &self.text(authority, "key"),
            "-CAcreateserial",
            "-extfile",
            &extensions.display().to_string(),
            "-out",
            &self.text(name, "pem"),
        ]);
    }

    /// Temporal's client settings for this proxy, presenting `client`'s certificate if any.
    fn settings(&self, proxy: SocketAddr, client: Option<&str>) -> Vec<(&'static str, String)> {
        let mut settings = vec![
            ("TEMPORAL_ADDRESS", proxy.to_string()),
            ("TEMPORAL_TLS", "true".to_owned()),
            ("TEMPORAL_TLS_SERVER_CA_CERT_PATH", self.text("ca", "pem")),
            ("TEMPORAL_TLS_SERVER_NAME", SERVER_NAME.to_owned()),
        ];
        if let Some(client) = client {
            settings.push(("TEMPORAL_TLS_CLIENT_CERT_PATH", self.text(client, "pem")));
            settings.push(("TEMPORAL_TLS_CLIENT_KEY_PATH", self.text(client, "key")));
        }
        settings
    }
}

impl Drop for Certificates {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.folder);
    }
}

/// Starts the proxy: TLS on a loopback port, client certificates from `ca` required, the
/// decrypted bytes forwarded to `upstream`. It runs until the test ends.
async fn start_mtls_proxy(certificates: &Certificates, upstream: SocketAddr) -> SocketAddr {
    let provider = Arc::new(ring::default_provider());
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_file(certificates.path("ca", "pem")).unwrap())
        .unwrap();
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .unwrap();
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_client_cert_verifier(verifier)
        .with_single_cert(
            vec![CertificateDer::from_pem_file(certificates.path("server", "pem")).unwrap()],
            PrivateKeyDer::from_pem_file(certificates.path("server", "key")).unwrap(),
        )
        .unwrap();
    // gRPC is HTTP/2, which the client asks for by ALPN.
    config.alpn_protocols = vec![b"h2".to_vec()];
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                // A refused handshake ends here: rustls has sent the client its alert.
                let Ok(mut client) = acceptor.accept(client).await else {
                    return;
                };
                let Ok(mut server) = TcpStream::connect(upstream).await else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
            });
        }
    });
    address
}

/// The dev server's address as a socket address (the test kit gives `localhost:<port>`).
fn dev_server(platform: &Platform) -> SocketAddr {
    let port = platform
        .temporal
        .address()
        .rsplit_once(':')
        .unwrap()
        .1
        .to_owned();
    SocketAddr::from(([127, 0, 0, 1], port.parse().unwrap()))
}

/// Runs `binary` with `settings` and the platform's database and queues, to its end.
async fn run_with(
    binary: &Path,
    args: &[&str],
    platform: &Platform,
    settings: &[(&str, String)],
) -> Output {
    let run = tokio::process::Command::new(binary)
        .args(args)
        .envs(settings.iter().map(|(name, value)| (name, value)))
        .env("DATABASE_URL", platform.db.app_url())
        .env("ACME_READONLY_DATABASE_URL", platform.db.app_url())
        .env("ACME_TASK_QUEUE", &platform.temporal.queues.workflows)
        .env("RUST_LOG", "warn")
        .kill_on_drop(true)
        .output();
    tokio::time::timeout(std::time::Duration::from_secs(60), run)
        .await
        .expect("a refused connection should end the program")
        .unwrap()
}

#[tokio::test]
async fn with_a_client_certificate_a_worker_runs_a_process_over_mtls() {
    on_local_set(async {
        let platform = Platform::start(&[("m-1", Some("balanced"))]).await;
        let certificates = Certificates::make();
        let proxy = start_mtls_proxy(&certificates, dev_server(&platform)).await;
        let settings = certificates.settings(proxy, Some("client"));
        let settings: Vec<(&str, &str)> = settings
            .iter()
            .map(|(name, value)| (*name, value.as_str()))
            .collect();
        // The worker's only way to Temporal is through the proxy.
        let _worker = platform.spawn_worker_process_with(&settings);
        let output = platform
            .start_invest("r-1", "m-1", json!("25.00"))
            .await
            .get_result(WorkflowGetResultOptions::default())
            .await
            .unwrap();
        assert_eq!(output.reserved_gbp.to_string(), "25.00");

        // `acme` connects the same way and reads the run back.
        let described = run_with(
            &acme_binary(),
            &[
                "describe",
                &invest_cash::workflow_id("r-1"),
                "--output",
                "json",
            ],
            &platform,
            &certificates.settings(proxy, Some("client")),
        )
        .await;
        assert!(
            described.status.success(),
            "{}",
            String::from_utf8_lossy(&described.stderr)
        );
        let run: Value = serde_json::from_slice(&described.stdout).unwrap();
        assert_eq!(run["status"], "completed", "{run:#}");
        platform.finish().await;
    })
    .await;
}

#[tokio::test]
async fn without_a_trusted_client_certificate_connecting_fails_naming_the_tls_problem() {
    on_local_set(async {
        let platform = Platform::start(&[]).await;
        let certificates = Certificates::make();
        let proxy = start_mtls_proxy(&certificates, dev_server(&platform)).await;
        let worker = PathBuf::from(env!("CARGO_BIN_EXE_acme-worker"));
        for (client, problem) in [
            (None, "CertificateRequired"),
            (Some("stranger"), "UnknownCA"),
        ] {
            let settings = certificates.settings(proxy, client);
            for (binary, args) in [(&worker, &[][..]), (&acme_binary(), &["list"][..])] {
                let output = run_with(binary, args, &platform, &settings).await;
                let stderr = String::from_utf8_lossy(&output.stderr);
                assert!(!output.status.success(), "{binary:?} {client:?}: {stderr}");
                assert!(
                    stderr.contains("TLS") && stderr.contains(problem),
                    "{binary:?} with {client:?} should name {problem}: {stderr}"
                );
                assert!(
                    stderr.contains("TEMPORAL_TLS_CLIENT_CERT_PATH"),
                    "{binary:?} should say which settings to check: {stderr}"
                );
            }
        }
        platform.finish().await;
    })
    .await;
}
