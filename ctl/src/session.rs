//! A remote process session — `exec`, `attach`, `debug` — wired to
//! miniktl's own streams: the process's stdout and stderr to miniktl's,
//! miniktl's stdin to it, the local terminal in raw mode while a TTY is
//! used, and how it ended as miniktl's exit (`command terminated with exit
//! code N`, kubectl's words).

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, AttachParams, AttachedProcess};

use crate::context::Ctx;
use crate::error::{Error, Result};
use crate::flags::Streams;
use crate::io::{copy_in, copy_out, RawMode};

/// Streams `proc` until it ends; its status becomes miniktl's result.
pub async fn stream(ctx: &Ctx, mut proc: AttachedProcess, tty: bool) -> Result<()> {
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
        tokio::spawn(async move { copy_in(input, &mut remote).await })
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

/// Attaches to `container` of pod `name` and streams until it ends
/// (`attach`, and `debug` for the container it starts).
pub async fn attach(
    ctx: &Ctx,
    ns: &str,
    name: &str,
    container: &str,
    streams: Streams,
) -> Result<()> {
    let Streams { stdin, tty, quiet } = streams;
    let tty = tty && stdin && ctx.io.stdin_is_tty();
    let client = ctx.client().await?;
    let api: Api<Pod> = Api::namespaced(client, ns);
    let ap = AttachParams::default()
        .container(container)
        .stdin(stdin)
        .stdout(true)
        .stderr(!tty)
        .tty(tty);
    let proc = match api.attach(name, &ap).await {
        Ok(p) => p,
        Err(e) => return Err(ctx.kube_err(e).await),
    };
    if stdin && !quiet {
        ctx.eprint("If you don't see a command prompt, try pressing enter.\n");
    }
    stream(ctx, proc, tty).await
}
