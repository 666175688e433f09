//! A [`Plan`] as iptables filter rules on the pod network, the way
//! iptables-based network plugins (kube-router, Calico's iptables mode)
//! enforce NetworkPolicy.
//!
//! Pod-to-pod traffic crosses the cluster's Linux bridge; with
//! `br_netfilter` (`net.bridge.bridge-nf-call-iptables = 1`, which Docker
//! sets for its bridges and [`Rules::install`] makes sure of) bridged
//! packets pass the filter table's FORWARD chain, as routed ones do (a pod
//! calling a Service: DNAT to the endpoint first, so the rules see the
//! pod's address). The chains, in the filter table (`iptables-save -t
//! filter` shows them):
//! - `<P>-NETPOL`, jumped to first from FORWARD: packets of established
//!   connections return at once (a connection allowed when it opened is
//!   never cut by a later sync, and replies always pass); then one jump per
//!   isolated pod and direction, `-s <pod>` to its egress chain, `-d <pod>`
//!   to its ingress chain.
//! - `<P>-NPE-<n>` / `<P>-NPI-<n>`: one rule per allowed flow, `RETURN`
//!   when it matches (back to `<P>-NETPOL`, which checks the other
//!   direction next), and a final `DROP`.
//! - `<P>-NPX-<n>`: an `ipBlock` with `except`s: returns early for an
//!   excepted address, otherwise sets a mark bit that the calling chain
//!   tests to `RETURN`.
//!
//! The chains only drop; whatever they let through goes on to Docker's own
//! rules. Every sync rewrites all chains in one `iptables-restore
//! --noflush` transaction, and skips it when nothing changed. The chains
//! and the jump are removed when the proxy stops and by `minik-proxy
//! --cleanup`.
//!
//! Where minik simplifies: traffic between a pod and the host itself is
//! not filtered (it does not cross FORWARD): the kubelet's probes, and
//! minik's DNS server and userspace service listeners, which run on the
//! host. So DNS always works under an egress policy, and a connection a
//! Service's userspace listener makes to a pod comes from the node, which
//! every policy lets in (as Kubernetes lets in the node's probes).

use std::collections::BTreeSet;
use std::fmt::Write as _;

use super::plan::{Allow, Isolated, Peer, Plan, Ports};
use crate::command::{iptables, remove_chains, restore, run};
use crate::nat::{check_prefix, str_refs};

/// The packet mark bit an `ipBlock` helper chain sets when it matches.
const BLOCK_MARK: &str = "0x20000/0x20000";
/// Where the kernel says whether bridged packets pass iptables.
const BRIDGE_NF_CALL_IPTABLES: &str = "/proc/sys/net/bridge/bridge-nf-call-iptables";

/// Chain names for one prefix.
#[derive(Clone, Debug)]
struct Chains {
    prefix: String,
}

impl Chains {
    fn top(&self) -> String {
        format!("{}-NETPOL", self.prefix)
    }
    fn ingress(&self, n: usize) -> String {
        format!("{}-NPI-{n}", self.prefix)
    }
    fn egress(&self, n: usize) -> String {
        format!("{}-NPE-{n}", self.prefix)
    }
    fn block(&self, n: usize) -> String {
        format!("{}-NPX-{n}", self.prefix)
    }
    /// Whether `chain` is one of this prefix's chains.
    fn owns(&self, chain: &str) -> bool {
        chain == self.top()
            || ["NPI", "NPE", "NPX"].iter().any(|kind| {
                chain
                    .strip_prefix(&format!("{}-{kind}-", self.prefix))
                    .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
            })
    }
    /// The rule in FORWARD that sends traffic to `<P>-NETPOL`.
    fn jump(&self) -> Vec<String> {
        [
            "-m",
            "comment",
            "--comment",
            "minik network policy",
            "-j",
            &self.top(),
        ]
        .map(String::from)
        .to_vec()
    }
}

/// How many chains of each kind a rendering made.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Counts {
    ingress: usize,
    egress: usize,
    blocks: usize,
}

impl Counts {
    fn of(plan: &Plan) -> Self {
        let blocks = |list: &[Isolated]| {
            list.iter()
                .flat_map(|i| &i.allow)
                .filter(|a| matches!(&a.peer, Peer::Block { except, .. } if !except.is_empty()))
                .count()
        };
        Counts {
            ingress: plan.ingress.len(),
            egress: plan.egress.len(),
            blocks: blocks(&plan.ingress) + blocks(&plan.egress),
        }
    }

    /// The chains these counts name.
    fn chains(&self, chains: &Chains) -> BTreeSet<String> {
        (0..self.ingress)
            .map(|n| chains.ingress(n))
            .chain((0..self.egress).map(|n| chains.egress(n)))
            .chain((0..self.blocks).map(|n| chains.block(n)))
            .collect()
    }
}

/// `-p tcp -m tcp --dport 80:90`, or less.
fn ports_match(ports: &Ports) -> String {
    match ports {
        Ports::Any => String::new(),
        Ports::Protocol(p) => format!(" -p {}", p.iptables_name()),
        Ports::Range {
            protocol,
            first,
            last,
        } => {
            let p = protocol.iptables_name();
            if first == last {
                format!(" -p {p} -m {p} --dport {first}")
            } else {
                format!(" -p {p} -m {p} --dport {first}:{last}")
            }
        }
    }
}

/// A rule comment iptables accepts (at most 255 characters).
fn comment(text: &str) -> String {
    let mut text = text.replace('"', "'");
    if text.len() > 250 {
        let mut end = 250;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push_str("...");
    }
    format!("-m comment --comment \"{text}\"")
}

/// Writes one isolated pod's chain (and its `ipBlock` helpers, numbered
/// from `*blocks`). `side` is `-s` (ingress: the peer sends) or `-d`.
fn render_pod(
    out: &mut String,
    chains: &Chains,
    chain: &str,
    pod: &Isolated,
    direction: &str,
    side: &str,
    blocks: &mut usize,
) {
    for Allow { peer, ports } in &pod.allow {
        let ports = ports_match(ports);
        match peer {
            Peer::Any => {
                let _ = writeln!(out, "-A {chain}{ports} -j RETURN");
            }
            Peer::Pod(ip) => {
                let _ = writeln!(out, "-A {chain} {side} {ip}/32{ports} -j RETURN");
            }
            Peer::Block { cidr, except } if except.is_empty() => {
                let _ = writeln!(out, "-A {chain} {side} {cidr}{ports} -j RETURN");
            }
            Peer::Block { cidr, except } => {
                let helper = chains.block(*blocks);
                *blocks += 1;
                let _ = writeln!(out, "-A {helper} -j MARK --set-xmark 0x0/{}", mark_bit());
                for e in except {
                    let _ = writeln!(out, "-A {helper} {side} {e} -j RETURN");
                }
                let _ = writeln!(
                    out,
                    "-A {helper} {side} {cidr}{ports} -j MARK --set-xmark {BLOCK_MARK}"
                );
                let _ = writeln!(out, "-A {chain} -j {helper}");
                let _ = writeln!(out, "-A {chain} -m mark --mark {BLOCK_MARK} -j RETURN");
            }
        }
    }
    let _ = writeln!(
        out,
        "-A {chain} {} -j DROP",
        comment(&format!(
            "{}: no {direction} allowed by {}",
            pod.pod,
            pod.policies.join(", ")
        ))
    );
}

/// The mark's bit alone (`0x20000`), for clearing it.
fn mark_bit() -> &'static str {
    BLOCK_MARK.split('/').next().unwrap_or(BLOCK_MARK)
}

/// The `iptables-restore --noflush` input that makes the filter table hold
/// exactly `plan` (and deletes the chains in `stale`).
fn render(chains: &Chains, plan: &Plan, stale: &BTreeSet<String>) -> String {
    let mut out = String::from("*filter\n");
    let _ = writeln!(out, ":{} - [0:0]", chains.top());
    for chain in Counts::of(plan).chains(chains).iter().chain(stale) {
        let _ = writeln!(out, ":{chain} - [0:0]");
    }
    let top = chains.top();
    let _ = writeln!(
        out,
        "-A {top} -m conntrack --ctstate RELATED,ESTABLISHED -j RETURN"
    );
    // Per direction: its pods, which side of a packet is the pod, which
    // the peer, its name, and pod n's chain. Egress first, both times.
    type ChainOf = fn(&Chains, usize) -> String;
    let directions: [(&[Isolated], &str, &str, &str, ChainOf); 2] = [
        (&plan.egress, "-s", "-d", "egress", Chains::egress),
        (&plan.ingress, "-d", "-s", "ingress", Chains::ingress),
    ];
    for (pods, own, _, word, chain_of) in &directions {
        for (n, pod) in pods.iter().enumerate() {
            let _ = writeln!(
                out,
                "-A {top} {own} {}/32 {} -j {}",
                pod.ip,
                comment(&format!("{} {word}", pod.pod)),
                chain_of(chains, n)
            );
        }
    }
    let mut blocks = 0;
    for (pods, _, peer, word, chain_of) in &directions {
        for (n, pod) in pods.iter().enumerate() {
            render_pod(
                &mut out,
                chains,
                &chain_of(chains, n),
                pod,
                word,
                peer,
                &mut blocks,
            );
        }
    }
    for chain in stale {
        let _ = writeln!(out, "-X {chain}");
    }
    out.push_str("COMMIT\n");
    out
}

/// The installed rules. Dropping them removes the chains and the jump.
#[derive(Debug)]
pub struct Rules {
    chains: Chains,
    installed: Counts,
    /// What was last written (`None`: unknown, write at the next sync).
    last: Option<Plan>,
}

impl Rules {
    /// Makes sure bridged traffic passes iptables, removes whatever an
    /// earlier run with this prefix left, then creates the empty top chain
    /// and the jump into it.
    pub fn install(prefix: &str) -> Result<Self, String> {
        check_prefix(prefix)?;
        bridge_filtering()?;
        cleanup(prefix)?;
        let rules = Self {
            chains: Chains {
                prefix: prefix.to_string(),
            },
            installed: Counts::default(),
            last: Some(Plan::default()),
        };
        restore(&render(&rules.chains, &Plan::default(), &BTreeSet::new()))?;
        let jump = rules.chains.jump();
        iptables(
            &[
                &["-t", "filter", "-I", "FORWARD", "1"],
                &str_refs(&jump)[..],
            ]
            .concat(),
        )?;
        Ok(rules)
    }

    /// Makes the rules match `plan`; does nothing if they already do.
    pub fn sync(&mut self, plan: &Plan) -> Result<(), String> {
        if self.last.as_ref() == Some(plan) {
            return Ok(());
        }
        let counts = Counts::of(plan);
        let wanted = counts.chains(&self.chains);
        let stale: BTreeSet<String> = self
            .installed
            .chains(&self.chains)
            .into_iter()
            .filter(|c| !wanted.contains(c))
            .collect();
        self.last = None;
        restore(&render(&self.chains, plan, &stale))?;
        self.installed = counts;
        self.last = Some(plan.clone());
        Ok(())
    }
}

impl Drop for Rules {
    fn drop(&mut self) {
        match cleanup(&self.chains.prefix) {
            Ok(_) => {
                tracing::info!(prefix = %self.chains.prefix, "removed the network policy rules")
            }
            Err(error) => tracing::warn!(%error, "cannot remove the network policy rules"),
        }
    }
}

/// Turns on `bridge-nf-call-iptables` (loading `br_netfilter` if needed):
/// without it, packets between two pods on the bridge never meet the rules.
fn bridge_filtering() -> Result<(), String> {
    if std::fs::metadata(BRIDGE_NF_CALL_IPTABLES).is_err() {
        run("modprobe", &["br_netfilter"], None)?;
    }
    let on = std::fs::read_to_string(BRIDGE_NF_CALL_IPTABLES)
        .map_err(|e| format!("{BRIDGE_NF_CALL_IPTABLES}: {e}"))?;
    if on.trim() != "1" {
        std::fs::write(BRIDGE_NF_CALL_IPTABLES, "1")
            .map_err(|e| format!("cannot turn on {BRIDGE_NF_CALL_IPTABLES}: {e}"))?;
    }
    Ok(())
}

/// Removes the jump and chains of `prefix` from the filter table; returns
/// whether there was anything to remove.
pub fn cleanup(prefix: &str) -> Result<bool, String> {
    check_prefix(prefix)?;
    let chains = Chains {
        prefix: prefix.to_string(),
    };
    remove_chains("filter", &[("FORWARD", chains.jump())], |c| chains.owns(c))
}

#[cfg(test)]
mod tests {
    use super::super::plan::Protocol;
    use super::*;

    fn isolated(pod: &str, ip: &str, allow: Vec<Allow>) -> Isolated {
        Isolated {
            pod: pod.into(),
            ip: ip.parse().unwrap(),
            policies: vec!["shop/deny".into()],
            allow,
        }
    }

    #[test]
    fn rendering_returns_on_allowed_flows_and_drops_the_rest() {
        let chains = Chains {
            prefix: "MINIK".into(),
        };
        let plan = Plan {
            ingress: vec![isolated(
                "shop/web",
                "10.0.0.2",
                vec![
                    Allow {
                        peer: Peer::Pod("10.0.0.3".parse().unwrap()),
                        ports: Ports::Range {
                            protocol: Protocol::Tcp,
                            first: 80,
                            last: 80,
                        },
                    },
                    Allow {
                        peer: Peer::Block {
                            cidr: "10.1.0.0/16".parse().unwrap(),
                            except: vec!["10.1.2.0/24".parse().unwrap()],
                        },
                        ports: Ports::Protocol(Protocol::Udp),
                    },
                ],
            )],
            egress: vec![isolated("shop/client", "10.0.0.3", vec![])],
        };
        let stale = BTreeSet::from(["MINIK-NPI-1".to_string()]);
        assert_eq!(
            render(&chains, &plan, &stale),
            "*filter\n\
             :MINIK-NETPOL - [0:0]\n\
             :MINIK-NPE-0 - [0:0]\n\
             :MINIK-NPI-0 - [0:0]\n\
             :MINIK-NPX-0 - [0:0]\n\
             :MINIK-NPI-1 - [0:0]\n\
             -A MINIK-NETPOL -m conntrack --ctstate RELATED,ESTABLISHED -j RETURN\n\
             -A MINIK-NETPOL -s 10.0.0.3/32 -m comment --comment \"shop/client egress\" -j MINIK-NPE-0\n\
             -A MINIK-NETPOL -d 10.0.0.2/32 -m comment --comment \"shop/web ingress\" -j MINIK-NPI-0\n\
             -A MINIK-NPE-0 -m comment --comment \"shop/client: no egress allowed by shop/deny\" -j DROP\n\
             -A MINIK-NPI-0 -s 10.0.0.3/32 -p tcp -m tcp --dport 80 -j RETURN\n\
             -A MINIK-NPX-0 -j MARK --set-xmark 0x0/0x20000\n\
             -A MINIK-NPX-0 -s 10.1.2.0/24 -j RETURN\n\
             -A MINIK-NPX-0 -s 10.1.0.0/16 -p udp -j MARK --set-xmark 0x20000/0x20000\n\
             -A MINIK-NPI-0 -j MINIK-NPX-0\n\
             -A MINIK-NPI-0 -m mark --mark 0x20000/0x20000 -j RETURN\n\
             -A MINIK-NPI-0 -m comment --comment \"shop/web: no ingress allowed by shop/deny\" -j DROP\n\
             -X MINIK-NPI-1\n\
             COMMIT\n"
        );
    }

    #[test]
    fn only_this_prefixes_chains_are_owned() {
        let chains = Chains {
            prefix: "mk1".into(),
        };
        assert!(chains.owns("mk1-NETPOL"));
        assert!(chains.owns("mk1-NPI-12"));
        assert!(chains.owns("mk1-NPX-0"));
        assert!(!chains.owns("mk1-NPI-"));
        assert!(!chains.owns("mk1-SVC-1"));
        assert!(!chains.owns("mk12-NETPOL"));
    }
}
