//! What `cluster up/down` asks of Docker and the host network, through the
//! `docker` and `ip` command-line tools (miniktl does not link a Docker
//! client; only the kubelet talks to the Docker API):
//! - the offline images exist (else `images/build.sh` builds them);
//! - the cluster's bridge network exists (its gateway is the node IP);
//! - on `down`: the cluster's containers (label `minik.cluster=<name>`),
//!   its network and the service-CIDR local route are removed.

use std::path::PathBuf;
use std::process::Stdio;

use tokio::process::Command;

use crate::error::{Error, Result};

/// The images pods use by default (infra container and demo images).
pub const IMAGES: &[&str] = &[
    "minik/pause:3.10",
    "minik/busybox:1.35",
    "busybox:1.35",
    "busybox:latest",
    "minik/web:v1",
    "minik/web:v2",
];

/// The service CIDR whose local route the proxy adds.
pub const SERVICE_CIDR: &str = "10.96.0.0/16";

async fn run(program: &str, args: &[&str]) -> std::io::Result<std::process::Output> {
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .await
}

/// Whether the Docker engine answers.
pub async fn available() -> bool {
    run("docker", &["version", "--format", "{{.Server.Version}}"])
        .await
        .is_ok_and(|o| o.status.success())
}

/// The images that are missing locally.
pub async fn missing_images() -> Result<Vec<&'static str>> {
    let mut missing = Vec::new();
    let out = run(
        "docker",
        &[&["image", "inspect", "--format", "{{.Id}}"][..], IMAGES].concat(),
    )
    .await
    .map_err(|e| Error::Cluster(format!("cannot run docker: {e}")))?;
    if out.status.success() {
        return Ok(missing);
    }
    for img in IMAGES {
        let ok = run("docker", &["image", "inspect", "--format", "{{.Id}}", img])
            .await
            .is_ok_and(|o| o.status.success());
        if !ok {
            missing.push(*img);
        }
    }
    Ok(missing)
}

/// `images/build.sh` of a minik checkout: `$MINIK_IMAGES_DIR/build.sh`, or
/// found from miniktl's executable (`target/<profile>/miniktl` → `images/`)
/// or the current directory.
pub fn find_build_script() -> Option<PathBuf> {
    let mut candidates = Vec::new();
    if let Some(d) = std::env::var_os("MINIK_IMAGES_DIR") {
        candidates.push(PathBuf::from(d).join("build.sh"));
    }
    if let Ok(exe) = std::env::current_exe() {
        for up in exe.ancestors().skip(1).take(4) {
            candidates.push(up.join("images").join("build.sh"));
        }
    }
    if let Ok(cwd) = std::env::current_dir() {
        candidates.push(cwd.join("images").join("build.sh"));
    }
    candidates.into_iter().find(|p| p.is_file())
}

/// Builds the images with `images/build.sh` (offline, from static busybox).
pub async fn build_images() -> Result<String> {
    let script = find_build_script().ok_or_else(|| {
        Error::Cluster(
            "images are missing and images/build.sh was not found (set MINIK_IMAGES_DIR to a minik checkout's images/ directory)".into(),
        )
    })?;
    let out = Command::new("sh")
        .arg(&script)
        .stdin(Stdio::null())
        .output()
        .await
        .map_err(|e| Error::Cluster(format!("cannot run {}: {e}", script.display())))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if !out.status.success() {
        return Err(Error::Cluster(format!(
            "{} failed:\n{text}",
            script.display()
        )));
    }
    Ok(text)
}

/// Creates the cluster network if missing; returns its gateway (the node IP).
pub async fn ensure_network(
    name: &str,
    cluster: &str,
    subnet: Option<&str>,
) -> Result<(String, bool)> {
    let inspect = |n: String| async move {
        run(
            "docker",
            &[
                "network",
                "inspect",
                "--format",
                "{{range .IPAM.Config}}{{.Subnet}} {{.Gateway}}{{end}}",
                &n,
            ],
        )
        .await
    };
    let mut created = false;
    let mut out = inspect(name.to_string())
        .await
        .map_err(|e| Error::Cluster(format!("cannot run docker: {e}")))?;
    if !out.status.success() {
        let label = format!("minik.cluster={cluster}");
        let mut args = vec!["network", "create", "--driver", "bridge", "--label", &label];
        let gateway = subnet.and_then(first_address);
        if let (Some(s), Some(g)) = (subnet, gateway.as_deref()) {
            args.push("--subnet");
            args.push(s);
            args.push("--gateway");
            args.push(g);
        }
        args.push(name);
        let c = run("docker", &args)
            .await
            .map_err(|e| Error::Cluster(format!("cannot run docker: {e}")))?;
        if !c.status.success() {
            return Err(Error::Cluster(format!(
                "cannot create Docker network {name}: {}",
                String::from_utf8_lossy(&c.stderr).trim()
            )));
        }
        created = true;
        out = inspect(name.to_string())
            .await
            .map_err(|e| Error::Cluster(e.to_string()))?;
    }
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let mut parts = text.split_whitespace();
    let subnet = parts.next().unwrap_or("");
    let gateway = match parts.next() {
        Some(g) => g.to_string(),
        // Docker leaves Gateway empty when only a subnet was given; it uses the first address.
        None => first_address(subnet).ok_or_else(|| {
            Error::Cluster(format!(
                "cannot tell the gateway of Docker network {name} ({text:?})"
            ))
        })?,
    };
    Ok((gateway, created))
}

/// `10.244.0.0/16` → `10.244.0.1`.
fn first_address(cidr: &str) -> Option<String> {
    let (ip, bits) = cidr.split_once('/')?;
    let ip: std::net::Ipv4Addr = ip.parse().ok()?;
    let bits: u32 = bits.parse().ok()?;
    let mask = if bits == 0 {
        0
    } else {
        u32::MAX << (32 - bits)
    };
    Some(std::net::Ipv4Addr::from((u32::from(ip) & mask) + 1).to_string())
}

/// Removes every container labelled with the cluster's name; returns how many.
pub async fn remove_containers(cluster: &str) -> Result<usize> {
    let filter = format!("label=minik.cluster={cluster}");
    let out = run("docker", &["ps", "-aq", "--filter", &filter])
        .await
        .map_err(|e| Error::Cluster(e.to_string()))?;
    let ids: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(str::to_string)
        .collect();
    if ids.is_empty() {
        return Ok(0);
    }
    let mut args: Vec<&str> = vec!["rm", "-f"];
    args.extend(ids.iter().map(String::as_str));
    let rm = run("docker", &args)
        .await
        .map_err(|e| Error::Cluster(e.to_string()))?;
    if !rm.status.success() {
        return Err(Error::Cluster(format!(
            "docker rm failed: {}",
            String::from_utf8_lossy(&rm.stderr).trim()
        )));
    }
    Ok(ids.len())
}

/// Removes the cluster's Docker network; `false` if it did not exist.
pub async fn remove_network(name: &str) -> bool {
    run("docker", &["network", "rm", name])
        .await
        .is_ok_and(|o| o.status.success())
}

/// Removes the service-CIDR local route; `false` if it was not there.
pub async fn remove_service_route() -> bool {
    run(
        "ip",
        &[
            "route",
            "del",
            "local",
            SERVICE_CIDR,
            "dev",
            "lo",
            "table",
            "local",
        ],
    )
    .await
    .is_ok_and(|o| o.status.success())
}
