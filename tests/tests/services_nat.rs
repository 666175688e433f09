//! The proxy's iptables fast path on the real nat table: rules are
//! rewritten and shrunk in one transaction per sync, and what a killed
//! proxy leaves behind is removed by `minik-proxy --cleanup` (what
//! `miniktl cluster down` runs). Traffic through the rules is tested with
//! real pods in `services_docker.rs`.
//!
//! Needs root and iptables: under `CI=true` a missing iptables fails the
//! test instead of skipping it. No packet is sent: the rules name
//! documentation addresses (192.0.2.0/24, 198.51.100.0/24) and chains of
//! this run's own (`mkt<run id>-…`), all removed at the end.

use crate::services_support;
use crate::support;

use std::process::Command;

use minik_proxy::nat::{cleanup, Iptables, NatService};
use services_support::nat_rules as rules;

fn iptables_available() -> bool {
    let ok = Command::new("iptables-save")
        .args(["-t", "nat"])
        .output()
        .is_ok_and(|o| o.status.success());
    support::present_or_skip(ok, "iptables (as root)")
}

fn prefix() -> String {
    format!("mkt{}", support::run_id())
}

fn service(name: &str, frontend: &str, endpoints: &[&str]) -> NatService {
    NatService {
        name: name.into(),
        frontends: vec![frontend.parse().unwrap()],
        endpoints: endpoints.iter().map(|e| e.parse().unwrap()).collect(),
    }
}

#[test]
fn rules_follow_each_sync_and_a_killed_proxys_rules_are_cleaned_up() {
    if !iptables_available() {
        return;
    }
    let prefix = prefix();
    let mut nat = Iptables::install(&prefix).expect("install");
    let jumps: Vec<String> = rules(&prefix)
        .into_iter()
        .filter(|l| l.contains("minik service portals"))
        .collect();
    assert_eq!(jumps.len(), 3, "PREROUTING, OUTPUT, POSTROUTING: {jumps:?}");

    nat.sync(vec![
        service(
            "default/a:http",
            "192.0.2.10:80",
            &["198.51.100.1:8080", "198.51.100.2:8080"],
        ),
        service("default/b:http", "192.0.2.11:80", &["198.51.100.3:80"]),
    ])
    .expect("sync");
    let now = rules(&prefix).join("\n");
    assert!(now.contains(&format!(":{prefix}-SVC-1 ")), "{now}");
    assert!(
        now.contains("--every 2 --packet 0 -j DNAT --to-destination 198.51.100.1:8080"),
        "{now}"
    );
    assert!(
        now.contains("-j DNAT --to-destination 198.51.100.3:80"),
        "{now}"
    );

    // One service left: its chain is rewritten, the other's deleted.
    nat.sync(vec![service(
        "default/b:http",
        "192.0.2.11:80",
        &["198.51.100.4:80"],
    )])
    .expect("sync");
    let now = rules(&prefix).join("\n");
    assert!(!now.contains(&format!("{prefix}-SVC-1")), "{now}");
    assert!(!now.contains("198.51.100.3"), "stale endpoint kept:\n{now}");
    assert!(
        now.contains("-j DNAT --to-destination 198.51.100.4:80"),
        "{now}"
    );

    // A killed proxy runs no destructor; --cleanup removes what it left.
    std::mem::forget(nat);
    let out = Command::new(support::workspace_bin("minik-proxy"))
        .args(["--cleanup", "--iptables-chain-prefix", &prefix])
        .output()
        .expect("minik-proxy --cleanup");
    assert!(out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("removed"),
        "{out:?}"
    );
    assert!(rules(&prefix).is_empty(), "{:?}", rules(&prefix));
    assert_eq!(cleanup(&prefix), Ok(false), "nothing left to remove");
}

#[test]
fn dropping_the_rules_removes_them() {
    if !iptables_available() {
        return;
    }
    let prefix = prefix() + "d";
    let mut nat = Iptables::install(&prefix).expect("install");
    nat.sync(vec![service(
        "default/a:http",
        "192.0.2.12:80",
        &["198.51.100.5:80"],
    )])
    .expect("sync");
    assert!(!rules(&prefix).is_empty());
    drop(nat);
    assert!(rules(&prefix).is_empty(), "{:?}", rules(&prefix));
}
