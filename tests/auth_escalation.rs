//! RBAC escalation prevention through the real `kubectl`: a namespace admin (the `admin`
//! ClusterRole through a RoleBinding) can neither bind `cluster-admin` nor write a Role with
//! rules it does not hold, and gets kube-apiserver's 403; once it may `bind` `cluster-admin`,
//! the same binding is stored.

#[path = "common/auth.rs"]
mod auth;
mod common;

use auth::apply;
use common::{Podgate, wait_for};

const SETUP: &str = r#"
apiVersion: v1
kind: Namespace
metadata: {name: team}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: ann-admin, namespace: team}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: admin}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: ann}
"#;

const BIND: &str = r#"
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: bind-cluster-admin}
rules:
- apiGroups: [rbac.authorization.k8s.io]
  resources: [clusterroles]
  resourceNames: [cluster-admin]
  verbs: [bind]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: ann-bind, namespace: team}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: bind-cluster-admin}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: ann}
"#;

const HEAD: &str = "is attempting to grant RBAC permissions not currently held:";

#[test]
fn a_namespace_admin_cannot_grant_what_it_does_not_hold() {
    let dir = tempfile::tempdir().unwrap();
    let pg = Podgate::start(&[]);
    apply(&pg, dir.path(), "setup.yaml", SETUP);
    wait_for("ann to be a namespace admin", || {
        let out = pg.kubectl(&[
            "auth",
            "can-i",
            "create",
            "rolebindings",
            "-n",
            "team",
            "--as=ann",
        ]);
        out.status.success().then_some(())
    });

    let bind_root = [
        "create",
        "rolebinding",
        "ann-root",
        "-n",
        "team",
        "--clusterrole=cluster-admin",
        "--user=ann",
        "--as=ann",
    ];
    let out = pg.kubectl(&bind_root);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "binding cluster-admin was refused");
    assert!(
        stderr.contains(&format!(
            "rolebindings.rbac.authorization.k8s.io \"ann-root\" is forbidden: user \"ann\" (groups=[\"system:authenticated\"]) {HEAD}"
        )),
        "kube-apiserver's text: {stderr}"
    );
    assert!(
        stderr.contains("{APIGroups:[\"*\"], Resources:[\"*\"], Verbs:[\"*\"]}"),
        "the missing rules: {stderr}"
    );

    let out = pg.kubectl(&[
        "create",
        "role",
        "node-reader",
        "-n",
        "team",
        "--verb=get",
        "--resource=nodes",
        "--as=ann",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "a role with rules ann lacks was refused"
    );
    assert!(
        stderr
            .contains("roles.rbac.authorization.k8s.io \"node-reader\" is forbidden: user \"ann\"")
            && stderr.contains(HEAD),
        "{stderr}"
    );
    assert!(
        stderr.contains("{APIGroups:[\"\"], Resources:[\"nodes\"], Verbs:[\"get\"]}"),
        "{stderr}"
    );

    // Rules ann holds may be granted.
    pg.kubectl_ok(&[
        "create",
        "role",
        "pod-reader",
        "-n",
        "team",
        "--verb=get",
        "--resource=pods",
        "--as=ann",
    ]);
    pg.kubectl_ok(&[
        "create",
        "rolebinding",
        "bob-reads",
        "-n",
        "team",
        "--role=pod-reader",
        "--user=bob",
        "--as=ann",
    ]);

    // With `bind` on cluster-admin, the binding is allowed.
    apply(&pg, dir.path(), "bind.yaml", BIND);
    wait_for("ann may bind cluster-admin", || {
        pg.kubectl(&bind_root).status.success().then_some(())
    });
    let got = pg.kubectl_ok(&[
        "get",
        "rolebinding",
        "ann-root",
        "-n",
        "team",
        "-o",
        "jsonpath={.roleRef.name}",
    ]);
    assert_eq!(got, "cluster-admin");
}
