//! `miniktl exec`: run a command in a container through the API server's
//! `pods/exec` subresource (WebSocket, `v5.channel.k8s.io`, via kube's
//! `Api::exec`), which it proxies to the pod's kubelet — kubectl exec.
//! `-i` forwards stdin, `-t` asks for a TTY (and puts the local terminal
//! in raw mode while the command runs); the remote exit code becomes
//! miniktl's (`command terminated with exit code N`).

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, AttachParams};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::cmd::logs::{default_container, pick_pod};
use crate::context::{Ctx, Input, Out};
use crate::error::{Error, Result};

/// Execute a command in a container.
#[derive(clap::Args, Debug)]
pub struct Exec {
    /// POD or TYPE/NAME (deploy/web picks one of its pods).
    pub target: String,
    /// The container (default: the only one, or the first).
    #[arg(short = 'c', long = "container")]
    pub container: Option<String>,
    /// Pass stdin to the command.
    #[arg(short = 'i', long = "stdin")]
    pub stdin: bool,
    /// Stdin is a TTY.
    #[arg(short = 't', long = "tty")]
    pub tty: bool,
    /// Only print errors (no "Defaulted container" note).
    #[arg(short = 'q', long = "quiet")]
    pub quiet: bool,
    /// The command and its arguments, after `--`.
    #[arg(last = true, required = true)]
    pub command: Vec<String>,
}

impl Exec {
    pub async fn run(self, ctx: &Ctx) -> Result<()> {
        let ns = ctx.namespace().await?;
        let pod = pick_pod(ctx, &ns, &self.target, false).await?;
        let name = minik_api::meta::name(&pod).to_string();
        let container = match &self.container {
            Some(c) => c.clone(),
            None => {
                let c = default_container(&pod)
                    .ok_or_else(|| Error::Usage("the pod has no containers".into()))?;
                let all: Vec<&str> = pod
                    .pointer("/spec/containers")
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(|c| c.get("name").and_then(Value::as_str))
                            .collect()
                    })
                    .unwrap_or_default();
                if all.len() > 1 && !self.quiet {
                    ctx.eprint(&format!(
                        "Defaulted container \"{c}\" out of: {}\n",
                        all.join(", ")
                    ));
                }
                c
            }
        };
        if pod
            .pointer("/status/phase")
            .and_then(Value::as_str)
            .is_some_and(|p| p == "Succeeded" || p == "Failed")
        {
            return Err(Error::Usage(format!(
                "cannot exec into a container in a completed pod; current phase is {}",
                pod.pointer("/status/phase")
                    .and_then(Value::as_str)
                    .unwrap_or("")
            )));
        }
        let local_tty = self.tty && self.stdin && ctx.io.stdin_is_tty();
        if self.tty && !local_tty && self.stdin {
            ctx.eprint("Unable to use a TTY - input is not a terminal or the right kind of file\n");
        }
        let tty = self.tty && local_tty;
        let client = ctx.client().await?;
        let api: Api<Pod> = Api::namespaced(client, &ns);
        let ap = AttachParams::default()
            .container(container)
            .stdin(self.stdin)
            .stdout(true)
            .stderr(!tty)
            .tty(tty);
        let mut proc = match api.exec(&name, self.command.clone(), &ap).await {
            Ok(p) => p,
            Err(e) => return Err(ctx.kube_err(e).await),
        };
        let _raw = if tty { RawMode::enable() } else { None };
        let status = proc.take_status();
        let mut tasks = Vec::new();
        if let Some(mut stdout) = proc.stdout() {
            let out = ctx.io.out.clone();
            tasks.push(tokio::spawn(
                async move { copy_out(&mut stdout, out).await },
            ));
        }
        if let Some(mut stderr) = proc.stderr() {
            let err = ctx.io.err.clone();
            tasks.push(tokio::spawn(
                async move { copy_out(&mut stderr, err).await },
            ));
        }
        let stdin_task = proc.stdin().map(|mut remote| {
            let input = ctx.io.stdin.clone();
            tokio::spawn(async move {
                match input {
                    Input::Bytes(b) => {
                        let _ = remote.write_all(&b).await;
                    }
                    Input::Process => {
                        let mut local = tokio::io::stdin();
                        let mut buf = [0u8; 4096];
                        loop {
                            match local.read(&mut buf).await {
                                Ok(0) | Err(_) => break,
                                Ok(n) => {
                                    if remote.write_all(&buf[..n]).await.is_err() {
                                        break;
                                    }
                                }
                            }
                        }
                    }
                }
                let _ = remote.shutdown().await;
            })
        });
        let status = match status {
            Some(s) => s.await,
            None => None,
        };
        for t in tasks {
            let _ = t.await;
        }
        if let Some(t) = stdin_task {
            t.abort();
        }
        let _ = proc.join().await;
        match status {
            Some(s) if s.status.as_deref() == Some("Success") => Ok(()),
            Some(s) => {
                let code = s
                    .details
                    .as_ref()
                    .and_then(|d| d.causes.as_ref())
                    .and_then(|causes| {
                        causes
                            .iter()
                            .find(|c| c.reason.as_deref() == Some("ExitCode"))
                    })
                    .and_then(|c| c.message.as_deref())
                    .and_then(|m| m.parse::<i32>().ok());
                match code {
                    Some(c) => Err(Error::ExitCode(c)),
                    None => Err(Error::Api {
                        code: s.code.unwrap_or(500) as u16,
                        reason: s.reason.clone().unwrap_or_else(|| "InternalError".into()),
                        message: s.message.clone().unwrap_or_default(),
                    }),
                }
            }
            None => Ok(()),
        }
    }
}

async fn copy_out(from: &mut (impl tokio::io::AsyncRead + Unpin), mut to: Out) {
    let mut buf = [0u8; 8192];
    loop {
        match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let _ = std::io::Write::write_all(&mut to, &buf[..n]);
                let _ = std::io::Write::flush(&mut to);
            }
        }
    }
}

/// The local terminal in raw mode (no echo, no line buffering) until dropped.
struct RawMode {
    saved: libc::termios,
}

impl RawMode {
    fn enable() -> Option<RawMode> {
        // SAFETY: plain termios calls on fd 0 with a zero-initialised struct.
        unsafe {
            let mut saved: libc::termios = std::mem::zeroed();
            if libc::tcgetattr(0, &mut saved) != 0 {
                return None;
            }
            let mut raw = saved;
            libc::cfmakeraw(&mut raw);
            if libc::tcsetattr(0, libc::TCSANOW, &raw) != 0 {
                return None;
            }
            Some(RawMode { saved })
        }
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        // SAFETY: restores the attributes read in `enable`.
        unsafe {
            libc::tcsetattr(0, libc::TCSANOW, &self.saved);
        }
    }
}
