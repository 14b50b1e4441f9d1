//! In-process tests of the API semantics: a real redb store in a temp dir, the default registry,
//! no HTTP. (End-to-end tests with kubectl live in crates/dvpd/tests.)

use std::sync::Arc;
use std::time::Duration;

use dvp_apimachinery::StatusReason;
use dvp_apiserver::api::{
    Api, DeleteOptions, DeleteOutcome, ListOptions, PatchType, Propagation, WriteOptions,
};
use dvp_apiserver::events::{EventRecorder, EventType};
use dvp_store::{RedbStore, RedbStoreOptions, Store};
use serde_json::{Value, json};

struct Env {
    api: Api,
    _dir: tempfile::TempDir,
}

async fn env() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let store =
        RedbStore::open(&dir.path().join("store.redb"), RedbStoreOptions::default()).unwrap();
    let store: Arc<dyn Store> = Arc::new(store);
    let api = Api::new(store, dvp_apiserver::default_registry());
    dvp_apiserver::bootstrap::run(&api).await.unwrap();
    Env { api, _dir: dir }
}

fn opts() -> WriteOptions {
    WriteOptions {
        field_manager: Some("test".into()),
        ..Default::default()
    }
}

fn configmap(name: &str, owner: Option<&Value>) -> Value {
    let mut cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "default"}, "data": {"k": "v"}});
    if let Some(o) = owner {
        cm["metadata"]["ownerReferences"] = json!([{
            "apiVersion": "v1", "kind": "ConfigMap", "name": o["metadata"]["name"], "uid": o["metadata"]["uid"],
            "blockOwnerDeletion": true,
        }]);
    }
    cm
}

impl Env {
    async fn create_cm(&self, name: &str, owner: Option<&Value>) -> Value {
        let res = self.api.resource_for_kind("ConfigMap").unwrap();
        self.api
            .create(&res, "v1", Some("default"), configmap(name, owner), &opts())
            .await
            .unwrap()
            .object
    }

    async fn cm_exists(&self, name: &str) -> Option<Value> {
        let res = self.api.resource_for_kind("ConfigMap").unwrap();
        self.api.get(&res, "v1", Some("default"), name).await.ok()
    }

    /// Poll until `f` holds (the garbage collector works asynchronously).
    async fn eventually<F, Fut>(&self, what: &str, f: F)
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        for _ in 0..100 {
            if f().await {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("timed out waiting for: {what}");
    }
}

#[tokio::test]
async fn stale_resource_version_is_a_conflict() {
    let e = env().await;
    let res = e.api.resource_for_kind("ConfigMap").unwrap();
    let created = e.create_cm("c", None).await;
    let mut first = created.clone();
    first["data"]["k"] = json!("one");
    e.api
        .update(&res, "v1", Some("default"), "c", first, None, &opts())
        .await
        .unwrap();
    let mut stale = created.clone();
    stale["data"]["k"] = json!("two");
    let err = e
        .api
        .update(&res, "v1", Some("default"), "c", stale, None, &opts())
        .await
        .unwrap_err();
    assert_eq!(err.reason, StatusReason::Conflict);
    assert!(
        err.message.contains("the object has been modified"),
        "{}",
        err.message
    );
}

#[tokio::test]
async fn noop_patch_keeps_the_resource_version() {
    let e = env().await;
    let res = e.api.resource_for_kind("ConfigMap").unwrap();
    let created = e.create_cm("c", None).await;
    let patched = e
        .api
        .patch(
            &res,
            "v1",
            Some("default"),
            "c",
            PatchType::Merge,
            &json!({"data": {"k": "v"}}),
            None,
            &opts(),
        )
        .await
        .unwrap();
    assert_eq!(
        patched.object["metadata"]["resourceVersion"],
        created["metadata"]["resourceVersion"]
    );
}

#[tokio::test]
async fn generation_moves_with_spec_but_not_with_labels() {
    let e = env().await;
    let res = e.api.resource_for_kind("VirtualMachineIPAddress").unwrap();
    let vmip = json!({"apiVersion": "virtualization.deckhouse.io/v1alpha2", "kind": "VirtualMachineIPAddress",
                      "metadata": {"name": "ip", "namespace": "default"}, "spec": {"type": "Auto"}});
    let created = e
        .api
        .create(&res, "v1alpha2", Some("default"), vmip, &opts())
        .await
        .unwrap()
        .object;
    assert_eq!(created["metadata"]["generation"], 1);
    let labeled = e
        .api
        .patch(
            &res,
            "v1alpha2",
            Some("default"),
            "ip",
            PatchType::Merge,
            &json!({"metadata": {"labels": {"a": "b"}}}),
            None,
            &opts(),
        )
        .await
        .unwrap()
        .object;
    assert_eq!(labeled["metadata"]["generation"], 1);
    let changed = e
        .api
        .patch(
            &res,
            "v1alpha2",
            Some("default"),
            "ip",
            PatchType::Merge,
            &json!({"spec": {"type": "Static", "staticIP": "10.66.10.20"}}),
            None,
            &opts(),
        )
        .await
        .unwrap()
        .object;
    assert_eq!(changed["metadata"]["generation"], 2);
}

#[tokio::test]
async fn status_writes_are_split_from_spec_writes() {
    let e = env().await;
    let res = e.api.resource_for_kind("VirtualMachineIPAddress").unwrap();
    let vmip = json!({"apiVersion": "virtualization.deckhouse.io/v1alpha2", "kind": "VirtualMachineIPAddress",
                      "metadata": {"name": "ip", "namespace": "default"}, "spec": {"type": "Auto"},
                      "status": {"phase": "Bound"}});
    let created = e
        .api
        .create(&res, "v1alpha2", Some("default"), vmip, &opts())
        .await
        .unwrap()
        .object;
    assert!(created.get("status").is_none(), "create cannot set status");
    let main = e
        .api
        .patch(
            &res,
            "v1alpha2",
            Some("default"),
            "ip",
            PatchType::Merge,
            &json!({"status": {"phase": "Bound"}}),
            None,
            &opts(),
        )
        .await
        .unwrap()
        .object;
    assert!(
        main.get("status").is_none(),
        "the main resource ignores status"
    );
    let status = e
        .api
        .patch(
            &res,
            "v1alpha2",
            Some("default"),
            "ip",
            PatchType::Merge,
            &json!({"status": {"phase": "Bound"}, "spec": {"type": "Static"}}),
            Some("status"),
            &opts(),
        )
        .await
        .unwrap()
        .object;
    assert_eq!(status["status"]["phase"], "Bound");
    assert_eq!(
        status["spec"]["type"], "Auto",
        "the status subresource ignores spec"
    );
}

#[tokio::test]
async fn finalizer_holds_deletion_until_removed() {
    let e = env().await;
    let res = e.api.resource_for_kind("ConfigMap").unwrap();
    let mut cm = configmap("held", None);
    cm["metadata"]["finalizers"] = json!(["example.com/hold"]);
    e.api
        .create(&res, "v1", Some("default"), cm, &opts())
        .await
        .unwrap();
    let outcome = e
        .api
        .delete(
            &res,
            "v1",
            Some("default"),
            "held",
            &DeleteOptions::default(),
        )
        .await
        .unwrap();
    assert!(matches!(outcome, DeleteOutcome::Pending(_)));
    let held = e.cm_exists("held").await.expect("still there");
    assert!(held["metadata"]["deletionTimestamp"].is_string());
    let err = e
        .api
        .patch(
            &res,
            "v1",
            Some("default"),
            "held",
            PatchType::Merge,
            &json!({"metadata": {"finalizers": ["example.com/hold", "x/y"]}}),
            None,
            &opts(),
        )
        .await
        .unwrap_err();
    assert_eq!(
        err.reason,
        StatusReason::Invalid,
        "no new finalizers while deleting"
    );
    e.api
        .patch(
            &res,
            "v1",
            Some("default"),
            "held",
            PatchType::Merge,
            &json!({"metadata": {"finalizers": null}}),
            None,
            &opts(),
        )
        .await
        .unwrap();
    assert!(e.cm_exists("held").await.is_none());
}

#[tokio::test]
async fn background_deletion_removes_dependents() {
    let e = env().await;
    tokio::spawn(dvp_apiserver::gc::run(e.api.clone()));
    let owner = e.create_cm("owner", None).await;
    e.create_cm("child", Some(&owner)).await;
    let res = e.api.resource_for_kind("ConfigMap").unwrap();
    e.api
        .delete(
            &res,
            "v1",
            Some("default"),
            "owner",
            &DeleteOptions::default(),
        )
        .await
        .unwrap();
    e.eventually("child deleted", || async {
        e.cm_exists("child").await.is_none()
    })
    .await;
}

#[tokio::test]
async fn orphan_deletion_keeps_dependents_and_strips_the_reference() {
    let e = env().await;
    tokio::spawn(dvp_apiserver::gc::run(e.api.clone()));
    let owner = e.create_cm("owner", None).await;
    e.create_cm("child", Some(&owner)).await;
    let res = e.api.resource_for_kind("ConfigMap").unwrap();
    let opts = DeleteOptions {
        propagation_policy: Some(Propagation::Orphan),
        ..Default::default()
    };
    e.api
        .delete(&res, "v1", Some("default"), "owner", &opts)
        .await
        .unwrap();
    e.eventually("owner gone", || async {
        e.cm_exists("owner").await.is_none()
    })
    .await;
    let child = e.cm_exists("child").await.expect("child kept");
    assert!(
        child["metadata"].get("ownerReferences").is_none(),
        "{child}"
    );
}

#[tokio::test]
async fn foreground_deletion_removes_dependents_before_the_owner() {
    let e = env().await;
    tokio::spawn(dvp_apiserver::gc::run(e.api.clone()));
    let owner = e.create_cm("owner", None).await;
    e.create_cm("child", Some(&owner)).await;
    let res = e.api.resource_for_kind("ConfigMap").unwrap();
    let opts = DeleteOptions {
        propagation_policy: Some(Propagation::Foreground),
        ..Default::default()
    };
    let outcome = e
        .api
        .delete(&res, "v1", Some("default"), "owner", &opts)
        .await
        .unwrap();
    assert!(
        matches!(outcome, DeleteOutcome::Pending(_)),
        "the owner waits for its dependents"
    );
    e.eventually("both gone", || async {
        e.cm_exists("child").await.is_none() && e.cm_exists("owner").await.is_none()
    })
    .await;
}

#[tokio::test]
async fn deleting_a_namespace_deletes_its_content() {
    let e = env().await;
    tokio::spawn(dvp_apiserver::namespaces::run(e.api.clone()));
    let ns_res = e.api.resource_for_kind("Namespace").unwrap();
    let cm_res = e.api.resource_for_kind("ConfigMap").unwrap();
    e.api
        .create(
            &ns_res,
            "v1",
            None,
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "doomed"}}),
            &opts(),
        )
        .await
        .unwrap();
    let mut cm = configmap("c", None);
    cm["metadata"]["namespace"] = json!("doomed");
    e.api
        .create(&cm_res, "v1", Some("doomed"), cm.clone(), &opts())
        .await
        .unwrap();
    e.api
        .delete(&ns_res, "v1", None, "doomed", &DeleteOptions::default())
        .await
        .unwrap();
    let refused = e
        .api
        .create(
            &cm_res,
            "v1",
            Some("doomed"),
            configmap("late", None),
            &opts(),
        )
        .await;
    assert!(
        refused.is_err(),
        "no new content in a terminating namespace"
    );
    e.eventually("namespace gone", || async {
        e.api.get(&ns_res, "v1", None, "doomed").await.is_err()
    })
    .await;
    let left = e
        .api
        .list(&cm_res, "v1", Some("doomed"), &ListOptions::default())
        .await
        .unwrap()
        .items;
    assert!(left.is_empty());
}

#[tokio::test]
async fn repeated_events_are_folded_into_one_with_a_count() {
    let e = env().await;
    let involved = e.create_cm("subject", None).await;
    let recorder = EventRecorder::new(e.api.clone(), "test-controller");
    recorder
        .record(&involved, EventType::Normal, "Started", "it started")
        .await;
    recorder
        .record(&involved, EventType::Normal, "Started", "it started")
        .await;
    recorder
        .record(&involved, EventType::Warning, "Failed", "it failed")
        .await;
    let res = e.api.resource_for_kind("Event").unwrap();
    let events = e
        .api
        .list(&res, "v1", Some("default"), &ListOptions::default())
        .await
        .unwrap()
        .items;
    assert_eq!(events.len(), 2, "{events:?}");
    let started = events.iter().find(|ev| ev["reason"] == "Started").unwrap();
    assert_eq!(started["count"], 2);
    assert_eq!(started["involvedObject"]["kind"], "ConfigMap");
    assert_eq!(
        started["involvedObject"]["uid"],
        involved["metadata"]["uid"]
    );
    assert_eq!(started["source"]["component"], "test-controller");
}

#[tokio::test]
async fn first_start_objects_exist_and_bootstrap_is_idempotent() {
    let e = env().await;
    dvp_apiserver::bootstrap::run(&e.api).await.unwrap();
    let vmc = e.api.resource_for_kind("VirtualMachineClass").unwrap();
    assert!(e.api.get(&vmc, "v1alpha3", None, "generic").await.is_ok());
    assert!(e.api.get(&vmc, "v1alpha3", None, "host").await.is_ok());
    let mc = e.api.resource_for_kind("ModuleConfig").unwrap();
    let config = e
        .api
        .get(&mc, "v1alpha1", None, "virtualization")
        .await
        .unwrap();
    assert!(config["spec"]["settings"]["virtualMachineCIDRs"].is_array());
}

#[tokio::test]
async fn a_deleted_default_class_is_not_recreated() {
    let e = env().await;
    let vmc = e.api.resource_for_kind("VirtualMachineClass").unwrap();
    e.api
        .delete(&vmc, "v1alpha3", None, "host", &DeleteOptions::default())
        .await
        .unwrap();
    dvp_apiserver::bootstrap::run(&e.api).await.unwrap();
    assert!(e.api.get(&vmc, "v1alpha3", None, "host").await.is_err());
}

#[tokio::test]
async fn paged_lists_return_every_object_once_with_the_first_page_revision() {
    let e = env().await;
    let res = e.api.resource_for_kind("ConfigMap").unwrap();
    for i in 0..1234 {
        let mut cm = configmap(&format!("cm-{i:04}"), None);
        if i % 2 == 0 {
            cm["metadata"]["labels"] = json!({"even": "yes"});
        }
        e.api
            .create(&res, "v1", Some("default"), cm, &opts())
            .await
            .unwrap();
    }
    let mut names = Vec::new();
    let mut token = None;
    let mut revisions = Vec::new();
    loop {
        let page_opts = ListOptions {
            limit: Some(500),
            continue_token: token.clone(),
            ..Default::default()
        };
        let page = e
            .api
            .list(&res, "v1", Some("default"), &page_opts)
            .await
            .unwrap();
        assert!(page.items.len() <= 500);
        revisions.push(page.revision);
        names.extend(
            page.items
                .iter()
                .map(|o| o["metadata"]["name"].as_str().unwrap().to_string()),
        );
        token = page.continue_token;
        if token.is_none() {
            break;
        }
        // A write between pages must not disturb the listing.
        e.create_cm(&format!("zz-late-{}", names.len()), None).await;
    }
    let expected: Vec<String> = (0..1234).map(|i| format!("cm-{i:04}")).collect();
    assert_eq!(&names[..1234], &expected[..]);
    assert_eq!(revisions.len(), 3);
    assert!(
        revisions.iter().all(|r| *r == revisions[0]),
        "every page reports the first page's revision"
    );

    let even = ListOptions {
        label_selector: Some(dvp_apimachinery::selector::LabelSelector::parse("even=yes").unwrap()),
        limit: Some(400),
        ..Default::default()
    };
    let first = e
        .api
        .list(&res, "v1", Some("default"), &even)
        .await
        .unwrap();
    assert_eq!(first.items.len(), 400, "the limit counts matching objects");
    let rest = ListOptions {
        continue_token: first.continue_token.clone(),
        ..even.clone()
    };
    let second = e
        .api
        .list(&res, "v1", Some("default"), &rest)
        .await
        .unwrap();
    assert_eq!(second.items.len(), 617 - 400);
    assert!(second.continue_token.is_none());
}
