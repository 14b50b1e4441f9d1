//! [`Network`]'s decisions against the recording host network.

use std::net::Ipv4Addr;
use std::sync::Arc;

use dvp_api::kinds::instance::InstanceNetwork;
use dvp_qemu::argv::NicBackend;

use super::fake::FakeNet;
use super::names::{bridge_for, tap_for};
use super::*;

const UID: &str = "run-1";

fn main_net(ip: Option<&str>) -> InstanceNetwork {
    InstanceNetwork {
        type_: "Main".into(),
        mac_address: "52:54:00:00:00:01".into(),
        ip_address: ip.map(String::from),
        cidr: ip.map(|_| "10.201.7.0/24".to_string()),
        ..Default::default()
    }
}

fn extra(name: &str) -> InstanceNetwork {
    InstanceNetwork {
        type_: "Network".into(),
        name: name.into(),
        mac_address: "52:54:00:00:00:02".into(),
        ..Default::default()
    }
}

fn network(config: NetConfig) -> (Arc<FakeNet>, Network) {
    let fake = Arc::new(FakeNet::default());
    let net = Network::new(fake.clone(), config);
    (fake, net)
}

const MAC: [u8; 6] = [0x52, 0x54, 0, 0, 0, 1];

#[test]
fn each_interface_gets_a_tap_on_its_bridge() {
    let (fake, net) = network(NetConfig::default());
    let attached = net.attach(UID, &[main_net(Some("10.201.7.5")), extra("red")]);
    assert_eq!(attached.mode, Some(MODE_BRIDGE));
    assert_eq!(
        attached.nics,
        vec![
            NicBackend::Tap(tap_for(UID, 0)),
            NicBackend::Tap(tap_for(UID, 1))
        ]
    );
    assert_eq!(fake.master(&tap_for(UID, 0)).as_deref(), Some(MAIN_BRIDGE));
    assert_eq!(
        fake.master(&tap_for(UID, 1)),
        Some(bridge_for("Network", "red"))
    );
}

#[test]
fn the_main_bridge_carries_the_gateway_and_additional_bridges_no_address() {
    let (fake, net) = network(NetConfig::default());
    net.attach(UID, &[main_net(Some("10.201.7.5")), extra("red")]);
    assert_eq!(fake.addresses(MAIN_BRIDGE), vec!["10.201.7.254/24"]);
    assert!(fake.addresses(&bridge_for("Network", "red")).is_empty());
}

#[test]
fn a_bridged_main_interface_is_leased_its_address() {
    let (_, net) = network(NetConfig::default());
    net.attach(UID, &[main_net(Some("10.201.7.5"))]);
    let lease = net.leases().get(&MAC).unwrap();
    assert_eq!(lease.ip, Ipv4Addr::new(10, 201, 7, 5));
    assert_eq!(lease.gateway, Ipv4Addr::new(10, 201, 7, 254));
}

#[test]
fn an_address_given_after_the_start_is_served_then() {
    let (fake, net) = network(NetConfig::default());
    net.attach(UID, &[main_net(None)]);
    assert_eq!(net.leases().get(&MAC), None);
    net.serve(UID, &[main_net(Some("10.201.7.9"))]);
    assert_eq!(
        net.leases().get(&MAC).map(|l| l.ip),
        Some(Ipv4Addr::new(10, 201, 7, 9))
    );
    assert_eq!(fake.addresses(MAIN_BRIDGE), vec!["10.201.7.254/24"]);
}

#[test]
fn denied_taps_fall_back_to_user_mode_and_mark_the_node() {
    let (fake, net) = network(NetConfig::default());
    assert!(net.prepare_node());
    fake.deny_taps();
    let attached = net.attach(UID, &[main_net(Some("10.201.7.5")), extra("red")]);
    assert_eq!(attached.mode, Some(MODE_USER));
    assert_eq!(attached.nics, vec![NicBackend::User, NicBackend::Isolated]);
    let health = net.health().unwrap();
    assert!(!health.ready);
    assert!(health.message.contains("user-mode"), "{}", health.message);
    assert!(fake.taps().is_empty());
    assert_eq!(net.leases().get(&MAC), None);
}

#[test]
fn a_working_bridge_after_a_failure_marks_the_node_ready_again() {
    let (fake, net) = network(NetConfig::default());
    fake.deny_bridges();
    assert!(!net.prepare_node());
    assert!(!net.health().unwrap().ready);
    fake.allow_all();
    net.attach(UID, &[main_net(None)]);
    assert!(net.health().unwrap().ready);
}

#[test]
fn a_half_made_run_leaves_no_taps() {
    let (fake, net) = network(NetConfig::default());
    fake.fail_bridge(&bridge_for("Network", "red"));
    let attached = net.attach(UID, &[main_net(Some("10.201.7.5")), extra("red")]);
    assert_eq!(attached.mode, Some(MODE_USER));
    assert!(fake.taps().is_empty());
    assert!(
        fake.calls()
            .contains(&format!("tap {} {MAIN_BRIDGE}", tap_for(UID, 0)))
    );
}

#[test]
fn release_deletes_every_tap_of_the_run() {
    let (fake, net) = network(NetConfig::default());
    let attached = net.attach(UID, &[main_net(None), extra("red")]);
    assert_eq!(attached.mode, Some(MODE_BRIDGE));
    net.release(UID, 2);
    assert!(fake.taps().is_empty());
    assert_eq!(
        fake.calls()
            .iter()
            .filter(|c| c.starts_with("delete"))
            .count(),
        2
    );
}

#[test]
fn release_forgets_the_lease_and_deletes_only_this_runs_taps() {
    let (fake, net) = network(NetConfig::default());
    fake.add_link(MAIN_BRIDGE, None);
    fake.add_link(&tap_for("other-run", 0), Some(MAIN_BRIDGE));
    net.attach(UID, &[main_net(Some("10.201.7.5"))]);
    net.release(UID, 1);
    assert_eq!(net.leases().get(&MAC), None);
    assert_eq!(fake.taps(), vec![tap_for("other-run", 0)]);
}

#[test]
fn nat_is_off_by_default() {
    let (fake, net) = network(NetConfig::default());
    net.attach(UID, &[main_net(Some("10.201.7.5"))]);
    assert!(!fake.forwarding());
    assert!(fake.masquerades().is_empty());
}

#[test]
fn nat_masquerades_each_block_and_forwards() {
    let (fake, net) = network(NetConfig {
        nat: true,
        ..NetConfig::default()
    });
    net.attach(UID, &[main_net(Some("10.201.7.5"))]);
    assert!(fake.forwarding());
    assert_eq!(
        fake.masquerades(),
        vec![("10.201.7.0/24".to_string(), MAIN_BRIDGE.to_string())]
    );
}

#[test]
fn bridges_turned_off_give_user_mode_without_touching_the_host() {
    let (fake, net) = network(NetConfig {
        bridges: false,
        nat: false,
    });
    assert!(!net.prepare_node());
    let attached = net.attach(UID, &[main_net(Some("10.201.7.5"))]);
    assert_eq!(attached.mode, Some(MODE_USER));
    assert!(fake.calls().is_empty());
}

#[test]
fn a_run_without_interfaces_has_no_mode() {
    let (fake, net) = network(NetConfig::default());
    assert_eq!(net.attach(UID, &[]).mode, None);
    assert!(fake.calls().is_empty());
}

#[test]
fn the_gateway_address_is_added_once() {
    let (fake, net) = network(NetConfig::default());
    net.attach(UID, &[main_net(Some("10.201.7.5"))]);
    net.serve(UID, &[main_net(Some("10.201.7.5"))]);
    let adds = fake
        .calls()
        .iter()
        .filter(|c| c.starts_with("address"))
        .count();
    assert_eq!(adds, 1);
}

fn found(name: &str, carrier: bool, named: bool, created: Option<u64>) -> TapLink {
    TapLink {
        name: name.into(),
        carrier,
        named,
        created,
    }
}

#[test]
fn only_unheld_unnamed_old_taps_are_stale() {
    let now = 10_000;
    let taps = [
        found("dvp00000000000", false, false, Some(now - 600)),
        found("dvp00000000010", true, false, Some(now - 600)),
        found("dvp00000000020", false, true, Some(now - 600)),
        found("dvp00000000030", false, false, Some(now - 5)),
        found("dvp00000000040", false, false, None),
    ];
    assert_eq!(stale_taps(&taps, now), vec!["dvp00000000000".to_string()]);
}

#[test]
fn the_sweep_deletes_stale_taps_and_keeps_the_others() {
    let (fake, net) = network(NetConfig::default());
    fake.add_found_tap(found("dvp00000000000", false, false, Some(1)));
    fake.add_found_tap(found("dvp00000000010", true, false, Some(1)));
    assert_eq!(net.sweep_stale_taps(10_000), vec!["dvp00000000000"]);
    assert_eq!(fake.taps(), vec!["dvp00000000010".to_string()]);
}
