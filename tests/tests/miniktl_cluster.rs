//! `miniktl cluster up|status|down` with the real component binaries (run
//! `cargo build --workspace --bins` first), and the tutorials' scenarios on
//! the clusters it starts:
//! - sim runtime: up → status (each component runs from the one `minik`
//!   executable, under its own name) → up again (no-op) → a crashed
//!   component is reported and restarted → rolling update v1 → v2 → undo,
//!   self-healing, scaling → down → up again (the data survives) → down
//!   --purge, with no process left behind;
//! - sim runtime, fault: the API server of a 3-node cluster is killed with
//!   SIGKILL; `up --home H` with no flags brings back the recorded cluster
//!   (same nodes, port, proxy mode, pods; the components left running
//!   serve a scale-up), `up --nodes 1` is refused without touching it, and
//!   after `down` the home takes new flags;
//! - Docker runtime: a real container answers through `exec`, `logs` and
//!   `port-forward`; `down` removes its containers and network.
//!
//! - `minik` itself: each component by name (and named so to the API
//!   server), usage errors otherwise.
//!
//! Clusters run `--isolated` (no host route, loopback ports) under unique
//! names and homes, so they never meet another test's cluster.

use crate::support;

use support::cli::{down, miniktl, ok};

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Pids of processes whose command line mentions `needle`.
fn processes_mentioning(needle: &str) -> Vec<u32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if pid == std::process::id() {
            continue;
        }
        let Ok(cmd) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        let zombie = stat
            .rsplit_once(')')
            .is_some_and(|(_, r)| r.trim_start().starts_with('Z'));
        if !zombie && String::from_utf8_lossy(&cmd).contains(needle) {
            found.push(pid);
        }
    }
    found
}

fn kc(home: &Path) -> String {
    home.join("kubeconfig").display().to_string()
}

fn k(home: &Path, args: &[&str]) -> String {
    let kubeconfig = kc(home);
    let mut a = vec!["--kubeconfig", kubeconfig.as_str()];
    a.extend_from_slice(args);
    ok(&a)
}

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .join("examples")
}

#[test]
fn sim_cluster_lifecycle_and_scenarios() {
    let dir = tempfile::tempdir().unwrap();
    let home_path = dir.path().join("home");
    let home = home_path.display().to_string();
    let name = format!("mkt-{}", support::run_id());
    let _down = down(home_path.clone());
    let up = [
        "cluster",
        "up",
        "--runtime",
        "sim",
        "--nodes",
        "2",
        "--isolated",
        "--api-port",
        "0",
        "--home",
        &home,
        "--name",
        &name,
    ];

    let started = Instant::now();
    let out = ok(&up);
    assert!(out.contains("nodes Ready: node-1, node-2"), "{out}");
    assert!(
        out.contains("DNS answers: kubernetes.default.svc.cluster.local → 10.96.0.1"),
        "{out}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "cluster up took {:?}",
        started.elapsed()
    );
    let status = ok(&["cluster", "status", "--home", &home]);
    // API server, controller-manager, scheduler, 2 kubelets, proxy, DNS, dashboard.
    assert_eq!(
        status.lines().filter(|l| l.contains("running")).count(),
        8,
        "{status}"
    );
    // Every component runs from the one `minik` executable, under its own
    // name: argv[0] for `ps` and the kernel's name for `top`.
    for (id, name) in [
        ("apiserver", "minik-apiserver"),
        ("controller", "minik-controller"),
        ("scheduler", "minik-scheduler"),
        ("kubelet-node-1", "minik-kubelet"),
        ("kubelet-node-2", "minik-kubelet"),
        ("proxy", "minik-proxy"),
        ("dns", "minik-dns"),
        ("dashboard", "minik-dashboard"),
    ] {
        let pid = std::fs::read_to_string(home_path.join("pids").join(format!("{id}.pid")))
            .unwrap()
            .trim()
            .to_string();
        let exe = std::fs::read_link(format!("/proc/{pid}/exe")).unwrap();
        assert_eq!(exe, support::workspace_bin("minik"), "{id}");
        let cmdline = cmdline(pid.parse().unwrap());
        assert_eq!(cmdline.split(' ').next(), Some(name), "{id}: {cmdline}");
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap();
        assert_eq!(comm.trim_end(), &name[..name.len().min(15)], "{id}");
        assert!(
            status
                .lines()
                .any(|l| l.starts_with(name) && l.contains(&pid) && l.contains("running")),
            "{id} ({pid}) not reported as {name}:\n{status}"
        );
    }
    // The real kubectl reads the kubeconfig too.
    let nodes = support::kubectl_with(
        &home_path.join("kubeconfig"),
        &dir.path().join("cache"),
        &["get", "nodes", "-o", "name"],
        None,
    );
    assert_eq!(
        String::from_utf8_lossy(&nodes.stdout),
        "node/node-1\nnode/node-2\n"
    );

    // Twice is a no-op: same processes.
    let pid_of = |id: &str| {
        std::fs::read_to_string(home_path.join("pids").join(format!("{id}.pid")))
            .unwrap()
            .trim()
            .to_string()
    };
    let api_pid = pid_of("apiserver");
    let out = ok(&up);
    assert!(out.contains("is already running"), "{out}");
    assert_eq!(pid_of("apiserver"), api_pid);

    // A crashed component is reported by status and restarted by up.
    let dns_pid: i32 = pid_of("dns").parse().unwrap();
    // SAFETY: a process this test's cluster started.
    unsafe { libc::kill(dns_pid, libc::SIGKILL) };
    std::thread::sleep(Duration::from_millis(200));
    let st = miniktl(&["cluster", "status", "--home", &home]);
    assert!(!st.status.success());
    assert!(
        String::from_utf8_lossy(&st.stdout).contains("minik-dns"),
        "{:?}",
        st
    );
    let out = ok(&up);
    assert!(
        out.contains("dns (minik-dns) had exited") && out.contains("restarting it"),
        "{out}"
    );
    ok(&["cluster", "status", "--home", &home]);

    // Rolling update v1 → v2 → undo (examples/rolling-update).
    let rolling = examples().join("rolling-update").display().to_string();
    assert_eq!(
        k(&home_path, &["apply", "-f", &rolling]),
        "deployment.apps/web created\nservice/web created\n"
    );
    let status = k(
        &home_path,
        &["rollout", "status", "deployment/web", "--timeout=60s"],
    );
    assert!(
        status.ends_with("deployment \"web\" successfully rolled out\n"),
        "{status}"
    );
    assert_eq!(
        k(
            &home_path,
            &["set", "image", "deployment/web", "web=minik/web:v2"]
        ),
        "deployment.apps/web image updated\n"
    );
    let status = k(
        &home_path,
        &["rollout", "status", "deployment/web", "--timeout=60s"],
    );
    assert!(
        status.ends_with("deployment \"web\" successfully rolled out\n"),
        "{status}"
    );
    let history = k(&home_path, &["rollout", "history", "deployment/web"]);
    assert_eq!(
        history,
        "deployment.apps/web \nREVISION  CHANGE-CAUSE\n1         <none>\n2         <none>\n\n"
    );
    let images = k(
        &home_path,
        &[
            "get",
            "pods",
            "-l",
            "app=web",
            "-o",
            "jsonpath={.items[*].spec.containers[0].image}",
        ],
    );
    assert!(!images.contains("v1"), "{images}");
    assert_eq!(
        k(&home_path, &["rollout", "undo", "deployment/web"]),
        "deployment.apps/web rolled back\n"
    );
    k(
        &home_path,
        &["rollout", "status", "deployment/web", "--timeout=60s"],
    );
    assert_eq!(
        k(
            &home_path,
            &[
                "get",
                "deploy",
                "web",
                "-o",
                "jsonpath={.spec.template.spec.containers[0].image}"
            ]
        ),
        "minik/web:v1"
    );
    let history = k(&home_path, &["rollout", "history", "deployment/web"]);
    assert_eq!(
        history,
        "deployment.apps/web \nREVISION  CHANGE-CAUSE\n2         <none>\n3         <none>\n\n"
    );

    // Self-healing: a deleted pod is replaced.
    let before = k(&home_path, &["get", "pods", "-l", "app=web", "-o", "name"]);
    let victim = before.lines().next().unwrap().to_string();
    k(&home_path, &["delete", &victim, "--wait=false"]);
    k(
        &home_path,
        &[
            "wait",
            "--for=jsonpath={.status.readyReplicas}=4",
            "deployment/web",
            "--timeout=60s",
        ],
    );
    // The replacement can be Ready while the victim is still terminating.
    k(
        &home_path,
        &["wait", "--for=delete", &victim, "--timeout=60s"],
    );
    let after = k(&home_path, &["get", "pods", "-l", "app=web", "-o", "name"]);
    assert!(!after.lines().any(|l| l == victim), "{after}");

    // Scaling.
    assert_eq!(
        k(&home_path, &["scale", "deployment/web", "--replicas=2"]),
        "deployment.apps/web scaled\n"
    );
    k(
        &home_path,
        &[
            "wait",
            "--for=jsonpath={.status.replicas}=2",
            "deployment/web",
            "--timeout=60s",
        ],
    );
    let described = k(&home_path, &["describe", "deployment", "web"]);
    assert!(described.contains("ScalingReplicaSet"), "{described}");
    assert!(k(&home_path, &["get", "endpoints", "web"]).contains("web"));

    // Down: nothing left running; up again keeps the data; purge removes it.
    let out = ok(&["cluster", "down", "--home", &home]);
    assert!(out.contains("Stopped 8 component(s)"), "{out}");
    assert!(
        processes_mentioning(&home).is_empty(),
        "stray processes: {:?}",
        processes_mentioning(&home)
    );
    let st = miniktl(&["cluster", "status", "--home", &home]);
    assert!(!st.status.success());
    ok(&up);
    assert_eq!(
        k(&home_path, &["get", "deploy", "-o", "name"]),
        "deployment.apps/web\n"
    );
    ok(&["cluster", "down", "--purge", "--home", &home]);
    assert!(
        processes_mentioning(&home).is_empty(),
        "stray processes: {:?}",
        processes_mentioning(&home)
    );
    assert!(!home_path.join("data").exists());
}

/// The API server's port, from the cluster's kubeconfig.
fn api_port(home: &Path) -> u16 {
    let text = std::fs::read_to_string(home.join("kubeconfig")).unwrap();
    let server = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("server: "))
        .unwrap();
    server.rsplit(':').next().unwrap().parse().unwrap()
}

/// Established TCP connections process `pid` holds to local port `port`:
/// its socket inodes (`/proc/<pid>/fd`) matched against the kernel's table
/// of connections (`/proc/net/tcp`, `tcp6`).
fn connections_to(pid: u32, port: u16) -> usize {
    let inodes: std::collections::HashSet<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|fd| {
            let link = std::fs::read_link(fd.path()).ok()?;
            let link = link.to_string_lossy();
            Some(
                link.strip_prefix("socket:[")?
                    .strip_suffix(']')?
                    .to_string(),
            )
        })
        .collect();
    let remote = format!(":{port:04X}");
    ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .flat_map(|table| {
            std::fs::read_to_string(table)
                .unwrap_or_default()
                .lines()
                .skip(1)
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .filter(|row| {
            // sl local_address rem_address st ... uid timeout inode
            let f: Vec<&str> = row.split_whitespace().collect();
            f.len() > 9 && f[2].ends_with(&remote) && f[3] == "01" && inodes.contains(f[9])
        })
        .count()
}

/// The `/proc/<pid>/cmdline` of a process, arguments joined by spaces.
fn cmdline(pid: u32) -> String {
    String::from_utf8_lossy(&std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default())
        .replace('\0', " ")
}

/// `up` on a home whose API server died restores the recorded cluster —
/// before, it started a default one (1 Docker node on port 6443, host
/// iptables rules) and stranded the pods of the recorded nodes.
#[test]
fn up_after_an_apiserver_crash_restores_the_recorded_cluster() {
    let dir = tempfile::tempdir().unwrap();
    let home_path = dir.path().join("home");
    let home = home_path.display().to_string();
    let name = format!("mkt-{}", support::run_id());
    let _down = down(home_path.clone());
    ok(&[
        "cluster",
        "up",
        "--runtime",
        "sim",
        "--nodes",
        "3",
        "--isolated",
        "--api-port",
        "0",
        "--home",
        &home,
        "--name",
        &name,
    ]);
    let server = || {
        let text = std::fs::read_to_string(home_path.join("kubeconfig")).unwrap();
        text.lines()
            .find_map(|l| l.trim().strip_prefix("server: ").map(str::to_string))
            .unwrap()
    };
    let pid_of = |id: &str| -> u32 {
        std::fs::read_to_string(home_path.join("pids").join(format!("{id}.pid")))
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    };
    let pods_on_nodes = || {
        let names = k(
            &home_path,
            &["get", "pods", "-o", "jsonpath={.items[*].metadata.name}"],
        );
        let nodes = k(
            &home_path,
            &["get", "pods", "-o", "jsonpath={.items[*].spec.nodeName}"],
        );
        names
            .split_whitespace()
            .zip(nodes.split_whitespace())
            .map(|(p, n)| format!("{p}@{n}"))
            .collect::<Vec<_>>()
    };
    k(
        &home_path,
        &[
            "create",
            "deployment",
            "web",
            "--image=minik/web:v1",
            "--replicas=6",
        ],
    );
    k(
        &home_path,
        &["rollout", "status", "deployment/web", "--timeout=60s"],
    );
    let pods = pods_on_nodes();
    assert_eq!(pods.len(), 6, "{pods:?}");
    let server_before = server();
    let record = std::fs::read_to_string(home_path.join("cluster.json")).unwrap();

    // Fault: the API server dies; everything else keeps running.
    let api_pid = pid_of("apiserver");
    let others: Vec<u32> = ["controller", "scheduler", "proxy", "dns"]
        .into_iter()
        .map(pid_of)
        .chain((1..=3).map(|i| pid_of(&format!("kubelet-node-{i}"))))
        .collect();
    let injected = Instant::now();
    // SAFETY: a process this test's cluster started.
    unsafe { libc::kill(api_pid as i32, libc::SIGKILL) };
    // Until it is gone or a zombie (whose cmdline is empty).
    while !cmdline(api_pid).is_empty() && injected.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(10));
    }

    // No flags: the recorded cluster comes back, nothing else is touched.
    let out = ok(&["cluster", "up", "--home", &home]);
    let converged = injected.elapsed();
    assert!(
        out.contains("apiserver (minik-apiserver) had exited")
            && out.contains("nodes Ready: node-1, node-2, node-3")
            && out.contains("restarted: apiserver)"),
        "{out}"
    );
    assert_ne!(pid_of("apiserver"), api_pid);
    assert_eq!(server(), server_before, "the API server moved");
    for (pid, now) in others.iter().zip(
        ["controller", "scheduler", "proxy", "dns"]
            .into_iter()
            .map(pid_of)
            .chain((1..=3).map(|i| pid_of(&format!("kubelet-node-{i}")))),
    ) {
        assert_eq!(*pid, now, "a live component was restarted");
    }
    assert_eq!(
        std::fs::read_to_string(home_path.join("cluster.json")).unwrap(),
        record
    );
    assert_eq!(
        k(
            &home_path,
            &["get", "nodes", "-o", "jsonpath={.items[*].metadata.name}"]
        ),
        "node-1 node-2 node-3"
    );
    // Isolated still: the proxy serves in userspace with no host route, so
    // it adds no iptables rules; no component runs the Docker runtime.
    let proxy = cmdline(pid_of("proxy"));
    assert!(
        proxy.contains("--proxy-mode userspace") && proxy.contains("--no-route"),
        "{proxy}"
    );
    for pid in processes_mentioning(&home) {
        assert!(
            !cmdline(pid).contains("--runtime docker"),
            "{}",
            cmdline(pid)
        );
    }
    assert_eq!(pods_on_nodes(), pods, "pods moved or vanished");
    k(
        &home_path,
        &[
            "wait",
            "--for=jsonpath={.status.readyReplicas}=6",
            "deployment/web",
            "--timeout=30s",
        ],
    );
    let status = ok(&["cluster", "status", "--home", &home]);
    assert!(
        status.contains(&format!(
            "--name {name} --runtime sim --nodes 3 --isolated --api-port 0"
        )) && status.contains("proxy userspace"),
        "{status}"
    );

    // Conflicting flags are refused; repeating the record is fine.
    let refused = miniktl(&["cluster", "up", "--home", &home, "--nodes", "1"]);
    assert!(!refused.status.success());
    assert_eq!(
        String::from_utf8_lossy(&refused.stderr).trim_end(),
        format!(
            "error: this cluster was created with --nodes 3 (recorded in {home}/cluster.json); \
             run `miniktl cluster down --home {home}` first to start a different one"
        )
    );
    assert_eq!(
        std::fs::read_to_string(home_path.join("cluster.json")).unwrap(),
        record
    );
    assert_eq!(pods_on_nodes(), pods);
    let out = ok(&[
        "cluster",
        "up",
        "--home",
        &home,
        "--nodes",
        "3",
        "--runtime",
        "sim",
        "--isolated",
    ]);
    assert!(out.contains("is already running"), "{out}");

    // The components left running work with the restarted API server: the
    // controllers and scheduler act on a scale-up once their watches have
    // relisted (after their retry backoff, hence the generous timeout).
    let scaled = Instant::now();
    k(&home_path, &["scale", "deployment/web", "--replicas=7"]);
    k(
        &home_path,
        &[
            "wait",
            "--for=jsonpath={.status.readyReplicas}=7",
            "deployment/web",
            "--timeout=60s",
        ],
    );
    let acting = scaled.elapsed();

    // `down` forgets the record (the data stays): new flags are taken.
    ok(&["cluster", "down", "--home", &home]);
    assert!(!home_path.join("cluster.json").exists());
    let out = ok(&[
        "cluster",
        "up",
        "--runtime",
        "sim",
        "--nodes",
        "1",
        "--isolated",
        "--api-port",
        "0",
        "--home",
        &home,
        "--name",
        &name,
    ]);
    assert!(out.contains("node Ready: node-1"), "{out}");
    println!(
        "fault_cluster_up: SIGKILL of minik-apiserver (pid {api_pid}) in a 3-node isolated sim cluster; \
         `cluster up --home H` restored it at {server_before} with 3 nodes Ready and 6 pods on their nodes \
         in {:.2}s; scaling 6 → 7 then took {:.1}s; `--nodes 1` refused",
        converged.as_secs_f64(),
        acting.as_secs_f64()
    );
}

/// Docker must be there when CI=true; elsewhere its absence skips the test.
fn docker_available() -> bool {
    let ok = Command::new("docker")
        .args(["version", "--format", "{{.Server.Version}}"])
        .output()
        .is_ok_and(|o| o.status.success());
    support::present_or_skip(ok, "a Docker engine")
}

fn docker_lines(args: &[&str]) -> Vec<String> {
    let o = Command::new("docker").args(args).output().unwrap();
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(str::to_string)
        .filter(|l| !l.is_empty())
        .collect()
}

#[test]
fn docker_cluster_runs_containers_and_cleans_up() {
    if !docker_available() {
        eprintln!("skipping: Docker is not available");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let home_path = dir.path().join("home");
    let home = home_path.display().to_string();
    let name = format!("mkt-{}", support::run_id());
    let _down = down(home_path.clone());
    let out = ok(&[
        "cluster",
        "up",
        "--runtime",
        "docker",
        "--nodes",
        "1",
        "--isolated",
        "--api-port",
        "0",
        "--home",
        &home,
        "--name",
        &name,
    ]);
    assert!(out.contains("node Ready: node-1"), "{out}");

    k(
        &home_path,
        &[
            "create",
            "deployment",
            "web",
            "--image=minik/web:v1",
            "--port=80",
        ],
    );
    k(
        &home_path,
        &["rollout", "status", "deployment/web", "--timeout=60s"],
    );
    let page = k(
        &home_path,
        &[
            "exec",
            "deploy/web",
            "--",
            "wget",
            "-qO-",
            "http://localhost/",
        ],
    );
    assert!(page.starts_with("minik-web v1 on web-"), "{page}");
    // Cluster DNS in an isolated cluster: at the node IP, which answers.
    let node_ip = kubectl(
        &home_path,
        &[
            "get",
            "node",
            "node-1",
            "-o",
            "jsonpath={.status.addresses[?(@.type==\"InternalIP\")].address}",
        ],
    );
    let resolv = k(
        &home_path,
        &["exec", "deploy/web", "--", "cat", "/etc/resolv.conf"],
    );
    assert!(
        resolv.contains(&format!("nameserver {node_ip}\n")),
        "{node_ip}: {resolv}"
    );
    let cluster_ip = kubectl(
        &home_path,
        &[
            "get",
            "svc",
            "kubernetes",
            "-o",
            "jsonpath={.spec.clusterIP}",
        ],
    );
    let answer = k(
        &home_path,
        &[
            "exec",
            "deploy/web",
            "--",
            "nslookup",
            "kubernetes.default.svc.cluster.local",
        ],
    );
    assert!(answer.contains(&cluster_ip), "{cluster_ip}: {answer}");
    let logs = k(&home_path, &["logs", "deploy/web"]);
    assert!(logs.contains("minik-web v1 listening on :80"), "{logs}");
    let fail = miniktl(&[
        "--kubeconfig",
        &kc(&home_path),
        "exec",
        "deploy/web",
        "--",
        "sh",
        "-c",
        "exit 3",
    ]);
    assert_eq!(fail.status.code(), Some(3));
    assert_eq!(
        String::from_utf8_lossy(&fail.stderr).lines().last(),
        Some("command terminated with exit code 3")
    );

    // port-forward from the host to the pod.
    let local = minik_tests::free_port();
    let mut pf = Command::new(support::workspace_bin("miniktl"))
        .args([
            "--kubeconfig",
            &kc(&home_path),
            "port-forward",
            "deploy/web",
            &format!("{local}:80"),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut body = String::new();
    for _ in 0..100 {
        if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", local)) {
            use std::io::{Read, Write};
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            s.write_all(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n").unwrap();
            let _ = s.read_to_string(&mut body);
            if body.contains("minik-web v1") {
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = pf.kill();
    let _ = pf.wait();
    assert!(body.contains("minik-web v1 on web-"), "{body}");

    let label = format!("label=minik.cluster={name}");
    assert!(!docker_lines(&["ps", "-aq", "--filter", &label]).is_empty());
    let out = ok(&["cluster", "down", "--home", &home]);
    assert!(
        out.contains(&format!("Removed Docker network {name}")),
        "{out}"
    );
    assert!(
        docker_lines(&["ps", "-aq", "--filter", &label]).is_empty(),
        "containers left behind"
    );
    assert!(
        docker_lines(&["network", "ls", "-q", "--filter", &format!("name=^{name}$")]).is_empty(),
        "network left behind"
    );
    assert!(
        processes_mentioning(&home).is_empty(),
        "stray processes: {:?}",
        processes_mentioning(&home)
    );
}

/// The real kubectl against a home's cluster.
fn kubectl(home: &Path, args: &[&str]) -> String {
    let out = std::process::Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(kc(home))
        .args(args)
        .output()
        .expect("kubectl is installed");
    assert!(
        out.status.success(),
        "kubectl {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn zones_label_nodes_and_pods_spread_across_them() {
    let dir = tempfile::tempdir().unwrap();
    let home_path = dir.path().join("home");
    let home = home_path.display().to_string();
    let name = format!("mkz-{}", support::run_id());
    let _down = down(home_path.clone());
    ok(&[
        "cluster",
        "up",
        "--runtime",
        "sim",
        "--nodes",
        "3",
        "--zones",
        "3",
        "--isolated",
        "--api-port",
        "0",
        "--home",
        &home,
        "--name",
        &name,
    ]);
    let zones = kubectl(
        &home_path,
        &[
            "get",
            "nodes",
            "-o",
            r#"jsonpath={range .items[*]}{.metadata.name}={.metadata.labels.topology\.kubernetes\.io/zone} {end}"#,
        ],
    );
    assert_eq!(zones.trim(), "node-1=zone-a node-2=zone-b node-3=zone-c");
    let deploy = r#"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"spread"},
      "spec":{"replicas":6,"selector":{"matchLabels":{"app":"spread"}},
        "template":{"metadata":{"labels":{"app":"spread"}},"spec":{
          "topologySpreadConstraints":[{"maxSkew":1,"topologyKey":"topology.kubernetes.io/zone",
            "whenUnsatisfiable":"DoNotSchedule","labelSelector":{"matchLabels":{"app":"spread"}}}],
          "containers":[{"name":"c","image":"minik/web:v1"}]}}}}"#;
    let file = dir.path().join("spread.json");
    std::fs::write(&file, deploy).unwrap();
    kubectl(&home_path, &["apply", "-f", file.to_str().unwrap()]);
    let deadline = Instant::now() + Duration::from_secs(60);
    let per_node = loop {
        let nodes = kubectl(
            &home_path,
            &[
                "get",
                "pods",
                "-l",
                "app=spread",
                "-o",
                "jsonpath={.items[*].spec.nodeName}",
            ],
        );
        let mut counts = std::collections::BTreeMap::new();
        for n in nodes.split_whitespace() {
            *counts.entry(n.to_string()).or_insert(0) += 1;
        }
        if counts.values().sum::<i32>() == 6 {
            break counts;
        }
        assert!(Instant::now() < deadline, "6 pods scheduled: {counts:?}");
        std::thread::sleep(Duration::from_millis(300));
    };
    assert_eq!(
        per_node.values().copied().collect::<Vec<_>>(),
        [2, 2, 2],
        "{per_node:?}"
    );
    // The record keeps --zones: a resume with another count is refused.
    let refused = miniktl(&["cluster", "up", "--home", &home, "--zones", "2"]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--zones 3"));
    println!("zones: 3 nodes in zone-a/b/c; 6 replicas spread {per_node:?}");
}

/// More simulated nodes than a process each is worth run in one kubelet
/// process: every node registers and turns Ready, `cluster status` counts
/// them, and `cluster down` stops the one process.
#[test]
fn many_simulated_nodes_share_one_kubelet_process() {
    let dir = tempfile::tempdir().unwrap();
    let home_path = dir.path().join("home");
    let home = home_path.display().to_string();
    let name = format!("mkn-{}", support::run_id());
    let _down = down(home_path.clone());
    let out = ok(&[
        "cluster",
        "up",
        "--runtime",
        "sim",
        "--nodes",
        "24",
        "--isolated",
        "--api-port",
        "0",
        "--home",
        &home,
        "--name",
        &name,
    ]);
    assert!(out.contains("24 nodes Ready: node-1 … node-24"), "{out}");
    let status = ok(&["cluster", "status", "--home", &home]);
    assert!(
        status
            .lines()
            .any(|l| l.starts_with("minik-kubelet (nodes)")
                && l.contains("running, 24/24 nodes Ready")),
        "{status}"
    );
    assert_eq!(
        status
            .lines()
            .filter(|l| l.starts_with("minik-kubelet"))
            .count(),
        1,
        "{status}"
    );
    let nodes = k(&home_path, &["get", "nodes", "--no-headers"]);
    assert_eq!(
        nodes.lines().filter(|l| l.contains(" Ready ")).count(),
        24,
        "{nodes}"
    );
    let kubelets = processes_mentioning(&format!("{home}/data/pki/kubelet-nodes.crt"));
    assert_eq!(kubelets.len(), 1, "one kubelet process");

    // Every component speaks HTTP/2 to the API server: whatever it does at
    // once — 24 nodes' status writes, a ReplicaSet's batch of creates, the
    // scheduler's bindings, every watch — goes over one connection. (Over
    // HTTP/1.1 each request in flight and each watch held one of its own:
    // dozens per component here.)
    k(
        &home_path,
        &[
            "create",
            "deployment",
            "wide",
            "--image=nginx",
            "--replicas=72",
        ],
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let pods = k(&home_path, &["get", "pods", "--no-headers"]);
        if pods.lines().filter(|l| l.contains(" Running ")).count() == 72 {
            break;
        }
        assert!(Instant::now() < deadline, "72 pods not Running:\n{pods}");
        std::thread::sleep(Duration::from_millis(500));
    }
    let port = api_port(&home_path);
    let mut checked = Vec::new();
    for pid in processes_mentioning(&home) {
        let command = cmdline(pid);
        let Some(binary) = [
            "minik-kubelet",
            "minik-controller",
            "minik-scheduler",
            "minik-dns",
        ]
        .into_iter()
        .find(|b| {
            command
                .split(' ')
                .next()
                .is_some_and(|exe| exe.ends_with(b))
        }) else {
            continue;
        };
        let held = connections_to(pid, port);
        assert!(
            (1..=2).contains(&held),
            "{binary} holds {held} connections to the API server"
        );
        checked.push(binary);
    }
    checked.sort();
    assert_eq!(
        checked,
        [
            "minik-controller",
            "minik-dns",
            "minik-kubelet",
            "minik-scheduler"
        ]
    );
    ok(&["cluster", "down", "--home", &home]);
    assert!(processes_mentioning(&format!("{home}/data/pki/kubelet-nodes.crt")).is_empty());
}

/// `cluster up --ha`: etcd, two API servers behind the load balancer and
/// two elected copies of the controller-manager and the scheduler. With
/// the first API server killed (SIGKILL), the real kubectl still reaches
/// the cluster through the same kubeconfig and a scale-up is carried out;
/// `up` again restarts the dead server; `down` leaves no process behind.
#[test]
fn ha_control_plane_survives_losing_an_api_server() {
    let dir = tempfile::tempdir().unwrap();
    let home_path = dir.path().join("home");
    let home = home_path.display().to_string();
    let name = format!("mkha-{}", support::run_id());
    let _down = down(home_path.clone());
    // Fails loudly under CI without etcd.
    if !minik_tests::etcd::available() {
        eprintln!("etcd is not installed: skipped outside CI");
        return;
    }
    let out = ok(&[
        "cluster",
        "up",
        "--ha",
        "--runtime",
        "sim",
        "--nodes",
        "2",
        "--isolated",
        "--api-port",
        "0",
        "--home",
        &home,
        "--name",
        &name,
    ]);
    for line in [
        "etcd serving at",
        "(apiserver-2) serving at",
        "load balancer at",
    ] {
        assert!(out.contains(line), "{line:?} missing from:\n{out}");
    }
    let status = ok(&["cluster", "status", "--home", &home]);
    for id in [
        "(apiserver)",
        "(apiserver-2)",
        "(lb)",
        "(controller-2)",
        "(scheduler-2)",
    ] {
        assert!(
            status
                .lines()
                .any(|l| l.contains(id) && l.contains("running")),
            "{id} not running:\n{status}"
        );
    }
    let leases = kubectl(
        &home_path,
        &["get", "leases", "-n", "kube-system", "-o", "name"],
    );
    for lease in ["kube-controller-manager", "kube-scheduler"] {
        assert!(leases.contains(lease), "{leases}");
    }
    kubectl(
        &home_path,
        &[
            "create",
            "deployment",
            "web",
            "--image=minik/web:v1",
            "--replicas=2",
        ],
    );
    let running = |n: usize| {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let pods = kubectl(
                &home_path,
                &["get", "pods", "-l", "app=web", "--no-headers"],
            );
            if pods.lines().filter(|l| l.contains(" Running ")).count() == n {
                return;
            }
            assert!(Instant::now() < deadline, "{n} pods not Running:\n{pods}");
            std::thread::sleep(Duration::from_millis(200));
        }
    };
    running(2);

    // Lose the first API server: the load balancer sends everyone to the other.
    let pid: i32 = std::fs::read_to_string(home_path.join("pids/apiserver.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // SAFETY: a pid this test's cluster wrote; SIGKILL only.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGKILL) }, 0);
    kubectl(&home_path, &["scale", "deployment", "web", "--replicas=4"]);
    running(4);
    let status = miniktl(&["cluster", "status", "--home", &home]);
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(
        text.lines()
            .any(|l| l.contains("(apiserver)") && l.contains("exited")),
        "{text}"
    );
    let out = ok(&["cluster", "up", "--home", &home]);
    assert!(out.contains("restarted: apiserver"), "{out}");
    ok(&["cluster", "down", "--home", &home]);
    assert!(
        processes_mentioning(&home).is_empty(),
        "processes left behind"
    );
}

/// `minik` itself: a component by its first argument (its flags, help,
/// version and errors are the component's own), a usage error for
/// anything else.
#[test]
fn the_minik_executable_runs_each_component_by_name() {
    let minik = |args: &[&str]| {
        Command::new(support::workspace_bin("minik"))
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let version = minik(&["--version"]);
    assert!(version.status.success());
    assert_eq!(
        String::from_utf8_lossy(&version.stdout),
        format!("minik {}\n", env!("CARGO_PKG_VERSION"))
    );
    let help = minik(&["help"]);
    assert!(help.status.success());
    let help = String::from_utf8_lossy(&help.stdout);
    for c in [
        "apiserver",
        "controller",
        "scheduler",
        "kubelet",
        "proxy",
        "dns",
        "dashboard",
    ] {
        assert!(help.contains(c), "{c} not listed:\n{help}");
        let version = minik(&[c, "--version"]);
        assert!(version.status.success(), "{c}: {version:?}");
        assert_eq!(
            String::from_utf8_lossy(&version.stdout),
            format!("minik-{c} {}\n", env!("CARGO_PKG_VERSION"))
        );
    }
    // A component's own flag errors, as its own executable gives them.
    let bad_flag = minik(&["scheduler", "--no-such-flag"]);
    assert_eq!(bad_flag.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&bad_flag.stderr);
    assert!(
        stderr.contains("--no-such-flag") && stderr.contains("minik-scheduler"),
        "{stderr}"
    );
    // A component's own failure once running: its error, exit status 1.
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token").display().to_string();
    let failed = minik(&["dashboard", "--listen", "0.0.0.0:0", "--token-file", &token]);
    assert_eq!(failed.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert!(
        stderr.starts_with("Error: ") && stderr.contains("--listen must be a loopback address"),
        "{stderr}"
    );
    let unknown = minik(&["etcd"]);
    assert_eq!(unknown.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&unknown.stderr);
    assert!(stderr.contains("no component \"etcd\""), "{stderr}");
    assert_eq!(minik(&[]).status.code(), Some(2));
}

/// A component run as `minik scheduler` names itself `minik-scheduler` to
/// the API server, as its own executable does: the User-Agent the API
/// server's metrics count requests by.
#[tokio::test]
async fn a_component_run_through_minik_names_itself_to_the_api_server() {
    let c = support::TestCluster::start().await;
    let mut scheduler = Command::new(support::workspace_bin("minik"))
        .args(["scheduler", "--kubeconfig"])
        .arg(&c.kubeconfig)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let counted = |metrics: &str, client: &str| {
        metrics
            .lines()
            .filter(|l| l.starts_with(&format!("apiserver_request_total{{client=\"{client}\"")))
            .count()
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut metrics = c.metrics().await;
    while counted(&metrics, "minik-scheduler") == 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
        metrics = c.metrics().await;
    }
    let _ = scheduler.kill();
    let _ = scheduler.wait();
    assert!(
        counted(&metrics, "minik-scheduler") > 0,
        "no request counted for client minik-scheduler:\n{}",
        metrics
            .lines()
            .filter(|l| l.starts_with("apiserver_request_total"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert_eq!(counted(&metrics, "minik"), 0, "{metrics}");
}
