//! `kubectl exec` over WebSocket: Kubernetes' channel protocols
//! `v5.channel.k8s.io` and `v4.channel.k8s.io`, which kubectl 1.32 speaks.
//!
//! Every binary message starts with a channel byte: 0 stdin (client →
//! server), 1 stdout, 2 stderr, 3 error (one `Status` JSON when the command
//! ends: Success, or Failure with reason NonZeroExitCode and the exit code
//! as a cause — kubectl exits with it), 4 resize (`{"Width":…,"Height":…}`).
//! v5 adds channel 255, "close": `[255, 0]` from the client means stdin
//! reached EOF, so `echo hi | kubectl exec -i … -- cat` ends.
//!
//! The same protocol serves `kubectl attach` (and `kubectl run -i`): the
//! session is then the container's main process (Docker attach), resize
//! applies to the container's TTY, and the end is a `Success` status, as
//! the kubelet sends when an attach returns.
//!
//! The command runs through the runtime's interactive exec (Docker exec
//! with a hijacked connection); this module only shuttles bytes.

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use serde_json::json;
use tokio::io::AsyncWriteExt;

use crate::runtime::{ExecFrame, Runtime};

pub const PROTOCOLS: [&str; 2] = ["v5.channel.k8s.io", "v4.channel.k8s.io"];

const STDIN: u8 = 0;
const STDOUT: u8 = 1;
const STDERR: u8 = 2;
const ERROR: u8 = 3;
const RESIZE: u8 = 4;
const CLOSE: u8 = 255;

/// What the client asked to run.
#[derive(Debug, Clone, Default)]
pub struct ExecRequest {
    pub container_id: String,
    pub command: Vec<String>,
    pub stdin: bool,
    pub tty: bool,
}

fn frame(channel: u8, data: &[u8]) -> Message {
    let mut v = Vec::with_capacity(data.len() + 1);
    v.push(channel);
    v.extend_from_slice(data);
    Message::Binary(Bytes::from(v))
}

/// An exec, or an attach to a container's main process.
#[derive(Debug, Clone)]
pub enum Session {
    Exec(ExecRequest),
    Attach { container_id: String, stdin: bool },
}

/// The `Status` sent on the error channel when the command has ended.
pub fn exit_status(command: &[String], exit_code: Option<i64>) -> serde_json::Value {
    match exit_code {
        Some(0) => json!({"metadata": {}, "status": "Success"}),
        Some(code) => json!({
            "metadata": {},
            "status": "Failure",
            "message": format!("command terminated with non-zero exit code: error executing command [{}], exit code {code}", command.join(" ")),
            "reason": "NonZeroExitCode",
            "details": {"causes": [{"reason": "ExitCode", "message": code.to_string()}]},
        }),
        None => json!({
            "metadata": {},
            "status": "Failure",
            "message": "command ended without an exit code",
            "reason": "InternalError",
        }),
    }
}

/// Runs one exec or attach session on an upgraded WebSocket.
pub async fn serve(socket: WebSocket, runtime: std::sync::Arc<dyn Runtime>, what: Session) {
    let (mut tx, mut rx) = socket.split();
    let opened = match &what {
        Session::Exec(req) => {
            runtime
                .exec_attach(&req.container_id, &req.command, req.tty, req.stdin)
                .await
        }
        Session::Attach {
            container_id,
            stdin,
        } => runtime.attach(container_id, *stdin).await,
    };
    let attach = matches!(what, Session::Attach { .. });
    let session = match opened {
        Ok(s) => s,
        Err(e) => {
            let status = json!({"metadata": {}, "status": "Failure", "message": e.to_string(), "reason": "InternalError"});
            let _ = tx.send(frame(ERROR, status.to_string().as_bytes())).await;
            let _ = tx.send(normal_close()).await;
            return;
        }
    };
    let exec_id = session.exec_id.clone();
    let mut input = session.input;
    let mut output = session.output;

    // Client → container: stdin, resize, close.
    let resize_runtime = runtime.clone();
    let resize_id = exec_id.clone();
    let mut reader = tokio::spawn(async move {
        let mut stdin_open = true;
        while let Some(Ok(msg)) = rx.next().await {
            let data = match msg {
                Message::Binary(d) => d,
                Message::Close(_) => break,
                _ => continue,
            };
            let Some((&channel, payload)) = data.split_first() else {
                continue;
            };
            match channel {
                STDIN if stdin_open => {
                    let written =
                        input.write_all(payload).await.is_ok() && input.flush().await.is_ok();
                    stdin_open = written;
                }
                RESIZE => {
                    if let Ok(size) = serde_json::from_slice::<serde_json::Value>(payload) {
                        let w = size["Width"].as_u64().unwrap_or(80) as u16;
                        let h = size["Height"].as_u64().unwrap_or(24) as u16;
                        let _ = if attach {
                            resize_runtime.resize(&resize_id, w, h).await
                        } else {
                            resize_runtime.exec_resize(&resize_id, w, h).await
                        };
                    }
                }
                CLOSE if payload.first() == Some(&STDIN) && stdin_open => {
                    stdin_open = false;
                    let _ = input.shutdown().await;
                }
                _ => {}
            }
        }
    });

    // Container → client: stdout and stderr, then the exit status. A
    // client that goes away ends the session (an attached container runs on).
    let mut client_gone = false;
    loop {
        let item = tokio::select! {
            item = output.next() => item,
            _ = &mut reader => {
                client_gone = true;
                None
            }
        };
        let Some(item) = item else { break };
        let msg = match item {
            Ok(ExecFrame::Stdout(b)) => frame(STDOUT, &b),
            Ok(ExecFrame::Stderr(b)) => frame(STDERR, &b),
            Err(_) => break,
        };
        if tx.send(msg).await.is_err() {
            break;
        }
    }
    if client_gone {
        return;
    }
    let status = match &what {
        Session::Attach { .. } => json!({"metadata": {}, "status": "Success"}),
        Session::Exec(req) => {
            // Docker may report the exec as running for a moment after its output ends.
            let mut code = None;
            for _ in 0..50 {
                match runtime.exec_exit_code(&exec_id).await {
                    Ok(Some(c)) => {
                        code = Some(c);
                        break;
                    }
                    Ok(None) => tokio::time::sleep(std::time::Duration::from_millis(20)).await,
                    Err(_) => break,
                }
            }
            exit_status(&req.command, code)
        }
    };
    let _ = tx.send(frame(ERROR, status.to_string().as_bytes())).await;
    let _ = tx.send(normal_close()).await;
    // Let the client answer the close before the connection drops, so it
    // sees a clean end rather than an abnormal closure.
    if tokio::time::timeout(std::time::Duration::from_secs(1), &mut reader)
        .await
        .is_err()
    {
        reader.abort();
    }
}

/// A close with status 1000: client-go reads any other close as an error.
fn normal_close() -> Message {
    Message::Close(Some(CloseFrame {
        code: axum::extract::ws::close_code::NORMAL,
        reason: "".into(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_status_carries_the_code_as_kubectl_reads_it() {
        let cmd = vec!["sh".to_string(), "-c".to_string(), "exit 3".to_string()];
        assert_eq!(exit_status(&cmd, Some(0))["status"], "Success");
        let s = exit_status(&cmd, Some(3));
        assert_eq!(s["reason"], "NonZeroExitCode");
        assert_eq!(s["details"]["causes"][0]["message"], "3");
        assert_eq!(
            s["message"],
            "command terminated with non-zero exit code: error executing command [sh -c exit 3], exit code 3"
        );
    }
}
