//! TLS server settings of a `protocol=tls` or `wss` transport (rustls, ring provider):
//! `cert_file`, `priv_key_file`, `ca_list_file`/`ca_list_path`, `verify_client`,
//! `require_client_cert`, `method`. The settings sit behind an `ArcSwap` so that
//! `pjsip reload` can read replaced certificate files: new handshakes use them, connections
//! already open keep theirs.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arc_swap::ArcSwap;
use rustls::RootCertStore;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{ServerConfig, SupportedProtocolVersion};

use crate::config::types::{TlsMethod, Transport};

/// Why a TLS transport could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    /// A required option is empty.
    #[error("option '{0}' is required for a TLS transport")]
    Missing(&'static str),
    /// A file could not be read or holds no usable PEM item.
    #[error("option '{option}': cannot use '{path}': {reason}")]
    File {
        /// The option naming the file.
        option: &'static str,
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// An option value rustls cannot honour.
    #[error("option '{option}': {reason}")]
    Unsupported {
        /// The option.
        option: &'static str,
        /// Why.
        reason: String,
    },
    /// rustls refused the combination.
    #[error("{0}")]
    Rustls(String),
}

/// The live TLS settings of one transport.
pub struct TlsContext {
    config: ArcSwap<ServerConfig>,
}

impl TlsContext {
    /// Reads the transport's files (relative names are relative to `base`).
    pub fn new(t: &Transport, base: &Path) -> Result<Self, TlsSetupError> {
        Ok(Self {
            config: ArcSwap::from(server_config(t, base)?),
        })
    }

    /// The settings for the next handshake.
    pub fn current(&self) -> Arc<ServerConfig> {
        self.config.load_full()
    }

    /// Re-reads the files; on error the running settings stay.
    pub fn reload(&self, t: &Transport, base: &Path) -> Result<(), TlsSetupError> {
        self.config.store(server_config(t, base)?);
        Ok(())
    }
}

fn resolve(base: &Path, name: &str) -> PathBuf {
    let p = Path::new(name);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    }
}

fn file_error(option: &'static str, path: &Path, reason: impl ToString) -> TlsSetupError {
    TlsSetupError::File {
        option,
        path: path.to_path_buf(),
        reason: reason.to_string(),
    }
}

/// The protocol versions `method` allows. rustls implements TLS 1.2 and 1.3 only.
fn versions(method: TlsMethod) -> Result<Vec<&'static SupportedProtocolVersion>, TlsSetupError> {
    match method {
        TlsMethod::Tlsv1_2 => Ok(vec![&rustls::version::TLS12]),
        TlsMethod::Tlsv1_3 => Ok(vec![&rustls::version::TLS13]),
        TlsMethod::Tlsv1 | TlsMethod::Tlsv1_1 | TlsMethod::Sslv2 | TlsMethod::Sslv3 => {
            Err(TlsSetupError::Unsupported {
                option: "method",
                reason: format!(
                    "'{method}' is obsolete and insecure; use tlsv1_2, tlsv1_3 or default"
                ),
            })
        }
        _ => Ok(vec![&rustls::version::TLS13, &rustls::version::TLS12]),
    }
}

fn server_config(t: &Transport, base: &Path) -> Result<Arc<ServerConfig>, TlsSetupError> {
    if t.cert_file.is_empty() {
        return Err(TlsSetupError::Missing("cert_file"));
    }
    if t.priv_key_file.is_empty() {
        return Err(TlsSetupError::Missing("priv_key_file"));
    }
    if !t.password.is_empty() {
        return Err(TlsSetupError::Unsupported {
            option: "password",
            reason: "encrypted private keys are not supported; decrypt the key file".into(),
        });
    }
    let cert_path = resolve(base, &t.cert_file);
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&cert_path)
        .map_err(|e| file_error("cert_file", &cert_path, e))?
        .collect::<Result<_, _>>()
        .map_err(|e| file_error("cert_file", &cert_path, e))?;
    if certs.is_empty() {
        return Err(file_error("cert_file", &cert_path, "no certificate in it"));
    }
    let key_path = resolve(base, &t.priv_key_file);
    let key = PrivateKeyDer::from_pem_file(&key_path)
        .map_err(|e| file_error("priv_key_file", &key_path, e))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions(t.method)?)
        .map_err(|e| TlsSetupError::Rustls(e.to_string()))?;
    let builder = if t.verify_client || t.require_client_cert {
        let roots = Arc::new(client_roots(t, base)?);
        let verifier = WebPkiClientVerifier::builder_with_provider(roots, provider);
        let verifier = if t.require_client_cert {
            verifier
        } else {
            verifier.allow_unauthenticated()
        };
        builder.with_client_cert_verifier(
            verifier
                .build()
                .map_err(|e| TlsSetupError::Rustls(e.to_string()))?,
        )
    } else {
        builder.with_no_client_auth()
    };
    let config = builder
        .with_single_cert(certs, key)
        .map_err(|e| file_error("priv_key_file", &key_path, e))?;
    Ok(Arc::new(config))
}

/// The CAs client certificates must chain to: `ca_list_file` and every `.pem`/`.crt` file
/// in `ca_list_path`.
fn client_roots(t: &Transport, base: &Path) -> Result<RootCertStore, TlsSetupError> {
    let mut files = Vec::new();
    if !t.ca_list_file.is_empty() {
        files.push(("ca_list_file", resolve(base, &t.ca_list_file)));
    }
    if !t.ca_list_path.is_empty() {
        let dir = resolve(base, &t.ca_list_path);
        let entries = std::fs::read_dir(&dir).map_err(|e| file_error("ca_list_path", &dir, e))?;
        for entry in entries.flatten() {
            let p = entry.path();
            if p.extension().is_some_and(|e| e == "pem" || e == "crt") {
                files.push(("ca_list_path", p));
            }
        }
    }
    let mut roots = RootCertStore::empty();
    for (option, path) in files {
        for cert in
            CertificateDer::pem_file_iter(&path).map_err(|e| file_error(option, &path, e))?
        {
            let cert = cert.map_err(|e| file_error(option, &path, e))?;
            roots.add(cert).map_err(|e| file_error(option, &path, e))?;
        }
    }
    if roots.is_empty() {
        return Err(TlsSetupError::Missing("ca_list_file"));
    }
    Ok(roots)
}
