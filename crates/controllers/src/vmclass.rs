//! VirtualMachineClass: a class is `Ready` when its CPU type can be served. Node-aware checks
//! (available nodes, discovered CPU features) arrive with the node agent; until then every class
//! whose spec passed admission is usable. `InUse` tells whether VMs reference it.

use std::sync::Arc;
use std::time::Duration;

use dvp_api::conditions::vmclass::{InUseReason, ReadyReason, Type};
use dvp_api::conditions::{ConditionStatus, new_condition, remove_condition, set_condition};
use dvp_api::kinds::VirtualMachine;
use dvp_api::kinds::virtual_machine_class::VirtualMachineClassPhase;
use dvp_api::kinds::virtual_machine_class::VirtualMachineClassStatus;
use dvp_api::kinds::virtual_machine_class::v1alpha2::VirtualMachineClass;
use futures::StreamExt;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::Api;
use kube::runtime::controller::{self, Action, Controller};
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Resource, ResourceExt};

use crate::Context;
use crate::status;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// a request to the API failed
    #[error(transparent)]
    Api(#[from] kube::Error),
    /// the status could not be written
    #[error(transparent)]
    Status(#[from] status::StatusError),
}

/// The status a class should have, given the VMs that use it.
pub fn desired_status(
    class: &VirtualMachineClass,
    users: &[String],
    now: Time,
) -> VirtualMachineClassStatus {
    let mut status = class
        .status
        .clone()
        .unwrap_or_else(|| VirtualMachineClassStatus {
            phase: VirtualMachineClassPhase::Pending,
            available_nodes: vec![],
            cpu_features: None,
            max_allocatable_resources: Default::default(),
            conditions: vec![],
            observed_generation: None,
        });
    let generation = class.meta().generation;
    status.phase = if class.meta().deletion_timestamp.is_some() {
        VirtualMachineClassPhase::Terminating
    } else {
        VirtualMachineClassPhase::Ready
    };
    set_condition(
        &mut status.conditions,
        new_condition(
            &Type::Ready,
            ConditionStatus::True,
            &ReadyReason::SuitableNodesFound,
            "",
            generation,
            now.clone(),
        ),
    );
    if users.is_empty() {
        remove_condition(&mut status.conditions, Type::InUse.as_str());
    } else {
        let message = format!("used by {}", users.join(", "));
        set_condition(
            &mut status.conditions,
            new_condition(
                &Type::InUse,
                ConditionStatus::True,
                &InUseReason::VirtualMachineClassInUse,
                message,
                generation,
                now,
            ),
        );
    }
    status.observed_generation = generation;
    status
}

/// The controller's own context: the shared one plus a cache of VMs (a class's users).
struct ClassCtx {
    ctx: Arc<Context>,
    vms: Store<VirtualMachine>,
}

async fn reconcile(class: Arc<VirtualMachineClass>, cc: Arc<ClassCtx>) -> Result<Action, Error> {
    let ctx = &cc.ctx;
    let mut users: Vec<String> = cc
        .vms
        .state()
        .iter()
        .filter(|vm| vm.spec.virtual_machine_class_name == class.name_any())
        .map(|vm| format!("{}/{}", vm.namespace().unwrap_or_default(), vm.name_any()))
        .collect();
    users.sort();
    let now = Time(k8s_openapi::jiff::Timestamp::now());
    let desired = desired_status(&class, &users, now);
    let classes: Api<VirtualMachineClass> = Api::all(ctx.client.clone());
    match status::write(&classes, class.as_ref(), class.status.as_ref(), &desired).await {
        Ok(_) | Err(status::StatusError::Conflict) => Ok(Action::requeue(Duration::from_secs(300))),
        Err(e) => Err(e.into()),
    }
}

fn error_policy(_: Arc<VirtualMachineClass>, error: &Error, _: Arc<ClassCtx>) -> Action {
    tracing::warn!(%error, "vmclass reconcile failed");
    Action::requeue(Duration::from_secs(5))
}

pub async fn run(ctx: Arc<Context>) {
    let classes: Api<VirtualMachineClass> = Api::all(ctx.client.clone());
    let vms: Api<VirtualMachine> = Api::all(ctx.client.clone());
    let (store, writer) = reflector::store();
    let cache = reflector::reflector(writer, watcher(vms.clone(), watcher::Config::default()))
        .default_backoff()
        .for_each(|_| futures::future::ready(()));
    tokio::spawn(cache);
    let cc = Arc::new(ClassCtx { ctx, vms: store });
    Controller::new(classes, watcher::Config::default())
        // Many VM changes in a burst make one class reconcile, not one each.
        .with_config(controller::Config::default().debounce(Duration::from_secs(1)))
        .watches(vms, watcher::Config::default(), |vm: VirtualMachine| {
            let name = vm.spec.virtual_machine_class_name;
            (!name.is_empty()).then(|| kube::runtime::reflector::ObjectRef::new(&name))
        })
        .run(reconcile, error_policy, cc)
        .for_each(|_| futures::future::ready(()))
        .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class() -> VirtualMachineClass {
        serde_json::from_value(dvp_api::admission::default_vmclass_generic()).unwrap()
    }

    fn t() -> Time {
        Time(k8s_openapi::jiff::Timestamp::UNIX_EPOCH)
    }

    #[test]
    fn a_class_without_users_is_ready_and_not_in_use() {
        let s = desired_status(&class(), &[], t());
        assert_eq!(s.phase, VirtualMachineClassPhase::Ready);
        assert!(
            s.conditions
                .iter()
                .any(|c| c.type_ == "Ready" && c.status == "True")
        );
        assert!(!s.conditions.iter().any(|c| c.type_ == "InUse"));
    }

    #[test]
    fn a_class_with_users_says_which() {
        let s = desired_status(&class(), &["default/linux-vm".into()], t());
        let in_use = s.conditions.iter().find(|c| c.type_ == "InUse").unwrap();
        assert!(in_use.message.contains("default/linux-vm"));
    }

    #[test]
    fn reconciling_twice_changes_nothing() {
        let mut c = class();
        c.status = Some(desired_status(&c, &[], t()));
        let later = Time(k8s_openapi::jiff::Timestamp::from_second(1000).unwrap());
        assert_eq!(desired_status(&c, &[], later), c.status.clone().unwrap());
    }
}
