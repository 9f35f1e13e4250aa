//! What authentication and authorization read about the cluster: reflector caches over the RBAC
//! objects and the ServiceAccounts, fed by watches through `kube::Client`, so deciding a request
//! makes no API call (as kube-apiserver's RBAC authorizer reads informer listers).

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use kube::Api;
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};

use super::rbac::RbacSource;
use crate::cluster::filled::Filled;

/// Cached RBAC objects and ServiceAccounts; cheap to clone.
#[derive(Clone)]
pub struct AuthCache {
    roles: Store<Role>,
    cluster_roles: Store<ClusterRole>,
    role_bindings: Store<RoleBinding>,
    cluster_role_bindings: Store<ClusterRoleBinding>,
    service_accounts: Store<ServiceAccount>,
    /// The four RBAC caches are filled.
    rbac_filled: Filled,
    /// The ServiceAccount cache is filled.
    service_accounts_filled: Filled,
}

impl AuthCache {
    /// Starts the watches as background tasks.
    pub fn start(client: &kube::Client) -> Self {
        let roles: Store<Role> = reflect(client);
        let cluster_roles: Store<ClusterRole> = reflect(client);
        let role_bindings: Store<RoleBinding> = reflect(client);
        let cluster_role_bindings: Store<ClusterRoleBinding> = reflect(client);
        let service_accounts: Store<ServiceAccount> = reflect(client);
        let rbac = (
            roles.clone(),
            cluster_roles.clone(),
            role_bindings.clone(),
            cluster_role_bindings.clone(),
        );
        let rbac_filled = Filled::spawn(async move {
            let _ = rbac.0.wait_until_ready().await;
            let _ = rbac.1.wait_until_ready().await;
            let _ = rbac.2.wait_until_ready().await;
            let _ = rbac.3.wait_until_ready().await;
        });
        let accounts = service_accounts.clone();
        let service_accounts_filled = Filled::spawn(async move {
            let _ = accounts.wait_until_ready().await;
        });
        Self {
            roles,
            cluster_roles,
            role_bindings,
            cluster_role_bindings,
            service_accounts,
            rbac_filled,
            service_accounts_filled,
        }
    }

    /// Waits (at most `limit`) until the RBAC caches have their first complete list.
    pub async fn wait_rbac(&self, limit: Duration) -> bool {
        self.rbac_filled.is_filled()
            || tokio::time::timeout(limit, self.rbac_filled.wait())
                .await
                .unwrap_or(false)
    }

    /// Waits (at most `limit`) until the ServiceAccount cache has its first complete list.
    pub async fn wait_service_accounts(&self, limit: Duration) -> bool {
        self.service_accounts_filled.is_filled()
            || tokio::time::timeout(limit, self.service_accounts_filled.wait())
                .await
                .unwrap_or(false)
    }

    /// A ServiceAccount by namespace and name.
    pub fn service_account(&self, namespace: &str, name: &str) -> Option<Arc<ServiceAccount>> {
        self.service_accounts
            .get(&ObjectRef::new(name).within(namespace))
    }
}

impl RbacSource for AuthCache {
    fn cluster_role_bindings(&self) -> Vec<Arc<ClusterRoleBinding>> {
        self.cluster_role_bindings.state()
    }

    fn role_bindings(&self, namespace: &str) -> Vec<Arc<RoleBinding>> {
        self.role_bindings
            .state()
            .into_iter()
            .filter(|b| b.metadata.namespace.as_deref() == Some(namespace))
            .collect()
    }

    fn role(&self, namespace: &str, name: &str) -> Option<Arc<Role>> {
        self.roles.get(&ObjectRef::new(name).within(namespace))
    }

    fn cluster_role(&self, name: &str) -> Option<Arc<ClusterRole>> {
        self.cluster_roles.get(&ObjectRef::new(name))
    }
}

/// Starts one reflector over every object of kind `K`.
fn reflect<K>(client: &kube::Client) -> Store<K>
where
    K: kube::Resource<DynamicType = ()>
        + Clone
        + std::fmt::Debug
        + serde::de::DeserializeOwned
        + Send
        + Sync
        + 'static,
{
    let (reader, writer) = reflector::store::<K>();
    let api: Api<K> = Api::all(client.clone());
    let stream = watcher(api, watcher::Config::default())
        .default_backoff()
        .reflect(writer);
    tokio::spawn(async move {
        let mut stream = std::pin::pin!(stream);
        while let Some(event) = stream.next().await {
            if let Err(e) = event {
                tracing::warn!(error = %e, kind = K::kind(&()).as_ref(), "auth cache watch failed; retrying");
            }
        }
    });
    reader
}
