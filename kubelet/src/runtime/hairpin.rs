//! Hairpin mode on the cluster bridge's ports — what the real kubelet's
//! `--hairpin-mode=hairpin-veth` does — so that a pod can reach itself
//! through its own Service.
//!
//! minik-proxy's DNAT rules may send a pod's connection to that same pod.
//! The rewritten packet must then leave the bridge by the port it came in
//! on, which a Linux bridge refuses unless that port is in hairpin mode:
//! the SYN is dropped, and the client's retry a second later lands on
//! another endpoint (or fails, if the pod is the only one).

use std::path::Path;

/// The Linux bridge behind a Docker bridge network: the name set in its
/// options, else Docker's `br-<first 12 characters of the network id>`.
pub fn bridge_name(
    id: &str,
    options: Option<&std::collections::HashMap<String, String>>,
) -> String {
    options
        .and_then(|o| o.get("com.docker.network.bridge.name"))
        .cloned()
        .unwrap_or_else(|| format!("br-{}", &id[..id.len().min(12)]))
}

/// Turns hairpin mode on for every port of `bridge`; returns how many
/// ports were switched on (ports already in hairpin mode are left alone).
pub fn enable(bridge: &str) -> std::io::Result<usize> {
    enable_under(Path::new("/sys/class/net"), bridge)
}

fn enable_under(sys_class_net: &Path, bridge: &str) -> std::io::Result<usize> {
    let mut switched = 0;
    for port in std::fs::read_dir(sys_class_net.join(bridge).join("brif"))? {
        let mode = port?.path().join("hairpin_mode");
        if std::fs::read_to_string(&mode)?.trim() != "1" {
            std::fs::write(&mode, "1")?;
            switched += 1;
        }
    }
    Ok(switched)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn bridge_names_follow_docker() {
        assert_eq!(bridge_name("0310e9d54b2e5f0a", None), "br-0310e9d54b2e");
        let named = HashMap::from([(
            "com.docker.network.bridge.name".to_string(),
            "docker0".to_string(),
        )]);
        assert_eq!(bridge_name("dabec2007c91aa", Some(&named)), "docker0");
    }

    #[test]
    fn every_port_of_the_bridge_is_switched_once() {
        let dir = tempfile::tempdir().unwrap();
        for port in ["veth1", "veth2"] {
            let p = dir.path().join("br-x/brif").join(port);
            std::fs::create_dir_all(&p).unwrap();
            std::fs::write(p.join("hairpin_mode"), "0\n").unwrap();
        }
        assert_eq!(enable_under(dir.path(), "br-x").unwrap(), 2);
        let mode = dir.path().join("br-x/brif/veth1/hairpin_mode");
        assert_eq!(std::fs::read_to_string(mode).unwrap(), "1");
        assert_eq!(enable_under(dir.path(), "br-x").unwrap(), 0);
        assert!(enable_under(dir.path(), "br-missing").is_err());
    }
}
