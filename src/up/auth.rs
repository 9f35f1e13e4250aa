//! The auth side of `podgate up`: its command-line flags, and the authenticator, authorizer
//! and token issuer it runs with, built from the state dir.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;

use crate::apiserver::ApiServer;
use crate::apiserver::authapis::AuthApis;
use crate::auth::authn::{Authn, StaticTokens};
use crate::auth::authz::{Authorizer, RbacAuthorizer};
use crate::auth::cache::AuthCache;
use crate::auth::serviceaccount::{
    DEFAULT_ISSUER, Issuer, KEY_FILE, ServiceAccountTokens, SigningKey,
};
use crate::auth::tokens::TokenFile;

/// Authentication and TLS flags of `podgate up` (kube-apiserver's names).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct AuthOptions {
    /// Serve this certificate (PEM, chain included) instead of one issued by podgate's CA.
    #[arg(long, requires = "tls_private_key_file")]
    pub tls_cert_file: Option<PathBuf>,
    /// The private key (PEM) of `--tls-cert-file`.
    #[arg(long, requires = "tls_cert_file")]
    pub tls_private_key_file: Option<PathBuf>,
    /// Extra host names or IP addresses for the serving certificate podgate issues; repeatable.
    #[arg(long = "tls-san")]
    pub tls_san: Vec<String>,
    /// More static tokens, in kube-apiserver's `--token-auth-file` CSV format
    /// (`token,user,uid,"group1,group2"`), besides the admin token in `<state>/tokens.csv`.
    #[arg(long)]
    pub token_auth_file: Option<PathBuf>,
}

impl AuthOptions {
    /// The serving certificate and key files, when given.
    pub fn tls_files(&self) -> Option<(&Path, &Path)> {
        Some((
            self.tls_cert_file.as_deref()?,
            self.tls_private_key_file.as_deref()?,
        ))
    }
}

/// Reads the static tokens: `<state>/tokens.csv` (the admin token), then `extra`, whose entries
/// win over the state file's for the same token.
pub fn load_tokens(state_file: &Path, extra: Option<&Path>) -> anyhow::Result<TokenFile> {
    let mut text = std::fs::read_to_string(state_file)
        .with_context(|| format!("reading {}", state_file.display()))?;
    if let Some(path) = extra {
        let more =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        TokenFile::parse(&more).with_context(|| format!("parsing {}", path.display()))?;
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(&more);
    }
    TokenFile::parse(&text).with_context(|| format!("parsing {}", state_file.display()))
}

/// Everything `podgate up` authenticates and authorizes with.
pub struct UpAuth {
    /// The authenticator union (client certificates, static tokens, ServiceAccount tokens).
    pub authn: Arc<Authn>,
    /// `system:masters` + RBAC.
    pub authz: Arc<dyn Authorizer>,
    /// The caches the authorizer reads.
    pub cache: AuthCache,
}

impl UpAuth {
    /// Loads (or creates) the ServiceAccount signing key in `state_dir`, starts the caches over
    /// `client`, and installs the auth APIs into `api`.
    pub fn start(
        state_dir: &Path,
        tokens: TokenFile,
        client: &kube::Client,
        api: &ApiServer,
    ) -> anyhow::Result<Self> {
        let audiences = vec![DEFAULT_ISSUER.to_string()];
        let key = SigningKey::load_or_create(&state_dir.join(KEY_FILE))?;
        let issuer = Arc::new(Issuer::new(key, DEFAULT_ISSUER, audiences.clone()));
        let cache = AuthCache::start(client);
        let authn = Arc::new(
            Authn::new(audiences.clone())
                .with(Arc::new(StaticTokens::new(Arc::new(tokens), audiences)))
                .with(Arc::new(ServiceAccountTokens::new(
                    issuer.clone(),
                    cache.clone(),
                    client.clone(),
                ))),
        );
        let authz: Arc<dyn Authorizer> = Arc::new(RbacAuthorizer::new(cache.clone()));
        api.install_auth(AuthApis {
            authn: authn.clone(),
            authz: authz.clone(),
            issuer,
        });
        Ok(Self {
            authn,
            authz,
            cache,
        })
    }

    /// Writes the default RBAC policy and waits until the caches have seen it.
    pub async fn bootstrap(&self, client: &kube::Client) -> anyhow::Result<()> {
        crate::auth::bootstrap::ensure(client).await?;
        if !self.cache.wait_rbac(Duration::from_secs(30)).await {
            anyhow::bail!("the RBAC caches did not sync");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extra_token_files_add_and_override() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("tokens.csv");
        std::fs::write(
            &state,
            "admin-t,podgate-admin,podgate-admin,\"system:masters\"",
        )
        .unwrap();
        let extra = dir.path().join("more.csv");
        std::fs::write(&extra, "prom-t,prom,p1\nadmin-t,demoted,d1\n").unwrap();
        let f = load_tokens(&state, Some(&extra)).unwrap();
        assert_eq!(f.authenticate("prom-t").unwrap().name, "prom");
        assert_eq!(f.authenticate("admin-t").unwrap().name, "demoted");
        let only = load_tokens(&state, None).unwrap();
        assert_eq!(only.authenticate("admin-t").unwrap().name, "podgate-admin");
        std::fs::write(&extra, "bad,line\n").unwrap();
        let err = load_tokens(&state, Some(&extra)).unwrap_err();
        assert!(
            format!("{err:#}").contains("needs at least 3 columns"),
            "{err:#}"
        );
    }
}
