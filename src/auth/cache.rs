//! What authentication and authorization read about the cluster: reflector caches over the RBAC
//! objects and the ServiceAccounts, fed by watches through `kube::Client`, so deciding a request
//! makes no API call (as kube-apiserver's RBAC authorizer reads informer listers).

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use kube::Api;
use kube::runtime::reflector::ObjectRef;
use tokio::task::JoinSet;

use super::rbac::RbacSource;
use crate::cluster::informer::Informer;

/// Cached RBAC objects and ServiceAccounts; cheap to clone. The watches stop when the last clone
/// is dropped.
#[derive(Clone)]
pub struct AuthCache {
    roles: Informer<Role>,
    cluster_roles: Informer<ClusterRole>,
    role_bindings: Informer<RoleBinding>,
    cluster_role_bindings: Informer<ClusterRoleBinding>,
    service_accounts: Informer<ServiceAccount>,
    _tasks: Arc<JoinSet<()>>,
}

impl AuthCache {
    /// Starts the watches as background tasks.
    pub fn start(client: &kube::Client) -> Self {
        let mut tasks = JoinSet::new();
        Self {
            roles: Informer::spawn(Api::all(client.clone()), &mut tasks),
            cluster_roles: Informer::spawn(Api::all(client.clone()), &mut tasks),
            role_bindings: Informer::spawn(Api::all(client.clone()), &mut tasks),
            cluster_role_bindings: Informer::spawn(Api::all(client.clone()), &mut tasks),
            service_accounts: Informer::spawn(Api::all(client.clone()), &mut tasks),
            _tasks: Arc::new(tasks),
        }
    }

    /// Waits (at most `limit`) until the RBAC caches have their first complete list.
    pub async fn wait_rbac(&self, limit: Duration) -> bool {
        let filled = async {
            self.roles.ready().await;
            self.cluster_roles.ready().await;
            self.role_bindings.ready().await;
            self.cluster_role_bindings.ready().await;
        };
        tokio::time::timeout(limit, filled).await.is_ok()
    }

    /// Waits (at most `limit`) until the ServiceAccount cache has its first complete list.
    pub async fn wait_service_accounts(&self, limit: Duration) -> bool {
        tokio::time::timeout(limit, self.service_accounts.ready())
            .await
            .is_ok()
    }

    /// A ServiceAccount by namespace and name.
    pub fn service_account(&self, namespace: &str, name: &str) -> Option<Arc<ServiceAccount>> {
        self.service_accounts
            .store()
            .get(&ObjectRef::new(name).within(namespace))
    }
}

impl RbacSource for AuthCache {
    fn cluster_role_bindings(&self) -> Vec<Arc<ClusterRoleBinding>> {
        self.cluster_role_bindings.store().state()
    }

    fn role_bindings(&self, namespace: &str) -> Vec<Arc<RoleBinding>> {
        self.role_bindings
            .store()
            .state()
            .into_iter()
            .filter(|b| b.metadata.namespace.as_deref() == Some(namespace))
            .collect()
    }

    fn role(&self, namespace: &str, name: &str) -> Option<Arc<Role>> {
        self.roles
            .store()
            .get(&ObjectRef::new(name).within(namespace))
    }

    fn cluster_role(&self, name: &str) -> Option<Arc<ClusterRole>> {
        self.cluster_roles.store().get(&ObjectRef::new(name))
    }
}
