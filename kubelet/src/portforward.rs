//! `pods/portforward` at the kubelet: `GET|POST /portForward/{namespace}/{pod}`,
//! which the API server proxies to as it is (upgrade headers and all).
//! Three forms, as Kubernetes serves them:
//!
//! - **SPDY/3.1** (`Upgrade: SPDY/3.1`, `X-Stream-Protocol-Version:
//!   portforward.k8s.io`): kubectl's classic form. Each forwarded
//!   connection is a pair of client-opened streams with headers
//!   `streamType` (`error` or `data`), `port` and `requestID`; bytes flow
//!   on the data stream, and the error stream carries a message if the
//!   connection to the pod fails, then closes (an empty error stream means
//!   success).
//! - **SPDY over WebSocket** (subprotocol `SPDY/3.1+portforward.k8s.io`):
//!   what kubectl ≥ 1.31 tries first; the same SPDY session, its bytes
//!   carried in binary WebSocket messages. In Kubernetes the API server
//!   unwraps this tunnel and speaks plain SPDY to the kubelet; minik's API
//!   server only splices bytes, so the kubelet unwraps it here — one place
//!   that speaks the protocol instead of two.
//! - **WebSocket channels** (`v4.channel.k8s.io`, what the kube crate and
//!   the Python client use), ports from `?ports=80,443`: for the i-th port,
//!   channel 2i carries data and 2i+1 errors; each channel first sends the
//!   port number (2 bytes, little endian). One connection per port.
//!
//! The kubelet connects to the pod's port the way the pod's own network
//! namespace would be reached: the Docker runtime puts every pod on a
//! bridge the host can route to, so the pod IP and port are connected to
//! directly (kube's dockershim entered the namespace with `nsenter` instead;
//! the result is the same for anything listening on the pod IP or on all
//! addresses, but a server bound only to the pod's 127.0.0.1 is not
//! reachable here). The sim runtime has no network, and says so.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

use crate::spdy::{self, Inbound, IncomingStream};

/// The WebSocket subprotocol of SPDY tunnelled in WebSocket messages.
pub const TUNNEL_PROTOCOL: &str = "SPDY/3.1+portforward.k8s.io";
/// The SPDY upgrade's stream protocol.
pub const SPDY_PROTOCOL: &str = "portforward.k8s.io";
/// The channel protocols of the WebSocket form.
pub const CHANNEL_PROTOCOLS: [&str; 1] = ["v4.channel.k8s.io"];

/// How long the second stream of a pair may keep the first waiting, as the
/// kubelet's stream creation timeout.
const PAIR_TIMEOUT: Duration = Duration::from_secs(30);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Where a pod's ports are: its IP on the pod network, and names for errors.
#[derive(Debug, Clone)]
pub struct Target {
    pub pod: String,
    pub uid: String,
    pub ip: String,
}

impl Target {
    async fn connect(&self, port: u16) -> Result<TcpStream, String> {
        let addr = format!("{}:{port}", self.ip);
        let fail = |e: String| {
            format!(
                "error forwarding port {port} to pod {}, uid {}: failed to connect to {addr} inside the pod network namespace: {e}",
                self.pod, self.uid
            )
        };
        match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(&addr)).await {
            Ok(Ok(s)) => {
                let _ = s.set_nodelay(true);
                Ok(s)
            }
            Ok(Err(e)) => Err(fail(format!("dial tcp4 {addr}: {}", go_error(&e)))),
            Err(_) => Err(fail(format!("dial tcp4 {addr}: i/o timeout"))),
        }
    }
}

/// A connect error in the words Go's net package (and so the kubelet) uses.
fn go_error(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::ConnectionRefused => "connect: connection refused".into(),
        std::io::ErrorKind::HostUnreachable => "connect: no route to host".into(),
        std::io::ErrorKind::NetworkUnreachable => "connect: network is unreachable".into(),
        _ => format!("connect: {e}"),
    }
}

/// Ports of the WebSocket form: `ports=80,443` and/or repeated `ports`.
pub fn parse_ports(values: &[String]) -> Result<Vec<u16>, String> {
    let mut ports = Vec::new();
    for v in values {
        for p in v.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match p.parse::<u16>() {
                Ok(n) if n > 0 => ports.push(n),
                _ => return Err(format!("unable to parse \"{p}\" as a port: invalid port")),
            }
        }
    }
    if ports.is_empty() {
        return Err("query parameter \"port\" is required".into());
    }
    Ok(ports)
}

/// Serves SPDY port-forward on an upgraded connection until it ends.
pub async fn serve_spdy<IO>(io: IO, target: Target)
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + 'static,
{
    let (tx, mut streams) = mpsc::channel::<IncomingStream>(16);
    let session = tokio::spawn(spdy::serve(io, tx));
    let pending: Arc<Mutex<HashMap<String, Pair>>> = Arc::default();
    let mut forwards = tokio::task::JoinSet::new();
    while let Some(stream) = streams.recv().await {
        let kind = stream.header("streamType").unwrap_or("").to_string();
        let request = stream
            .header("requestID")
            .map(str::to_string)
            // Clients before requestID paired streams by their IDs.
            .unwrap_or_else(|| ((stream.id + 1) / 4).to_string());
        let port = stream.header("port").and_then(|p| p.parse::<u16>().ok());
        let Some(port) = port.filter(|p| *p > 0) else {
            let _ = stream.out.reset(spdy::PROTOCOL_ERROR).await;
            continue;
        };
        let complete = {
            let mut map = pending.lock().unwrap();
            let pair = map.entry(request.clone()).or_default();
            let first = pair.error.is_none() && pair.data.is_none();
            match kind.as_str() {
                "error" if pair.error.is_none() => pair.error = Some(stream),
                "data" if pair.data.is_none() => pair.data = Some(stream),
                _ => {
                    let s = stream;
                    tokio::spawn(async move {
                        let _ = s.out.reset(spdy::PROTOCOL_ERROR).await;
                    });
                    continue;
                }
            }
            if first {
                // The other half must follow within the timeout.
                let pending = pending.clone();
                let request = request.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(PAIR_TIMEOUT).await;
                    let stale = pending.lock().unwrap().remove(&request);
                    if let Some(pair) = stale {
                        pair.abandon(&request).await;
                    }
                });
            }
            if pair.error.is_some() && pair.data.is_some() {
                map.remove(&request)
            } else {
                None
            }
        };
        if let Some(Pair {
            error: Some(error),
            data: Some(data),
        }) = complete
        {
            forwards.spawn(forward(target.clone(), port, error, data));
        }
        // Reap what has finished.
        while forwards.try_join_next().is_some() {}
    }
    // The session ended: every forward's streams are aborted, so they end.
    while forwards.join_next().await.is_some() {}
    let _ = session.await;
}

#[derive(Default)]
struct Pair {
    error: Option<IncomingStream>,
    data: Option<IncomingStream>,
}

impl Pair {
    async fn abandon(self, request: &str) {
        if let Some(e) = self.error {
            let message = format!("timed out waiting for the data stream of request {request}");
            let _ = e.out.write(Bytes::from(message)).await;
            let _ = e.out.finish().await;
        }
        if let Some(d) = self.data {
            let _ = d.out.reset(spdy::CANCEL).await;
        }
    }
}

/// One forwarded connection: the data stream spliced to the pod's port.
async fn forward(target: Target, port: u16, error: IncomingStream, data: IncomingStream) {
    let socket = match target.connect(port).await {
        Ok(s) => s,
        Err(message) => {
            tracing::info!(pod = %target.pod, port, error = %message, "port-forward failed");
            let _ = error.out.write(Bytes::from(message)).await;
            let _ = error.out.finish().await;
            let _ = data.out.finish().await;
            return;
        }
    };
    let (mut from_pod, mut to_pod) = socket.into_split();
    let IncomingStream {
        mut inbound,
        out: data_out,
        ..
    } = data;
    // Client → pod, until the client half-closes (FIN) or aborts.
    let upstream = async move {
        while let Some(item) = inbound.recv().await {
            match item {
                Inbound::Data(b) => {
                    if to_pod.write_all(&b).await.is_err() {
                        return false;
                    }
                }
                Inbound::Fin => {
                    let _ = to_pod.shutdown().await;
                    return true;
                }
            }
        }
        false
    };
    // Pod → client, until the pod closes its side.
    let out = data_out.clone();
    let downstream = async move {
        let mut buf = vec![0u8; 32 * 1024];
        loop {
            match from_pod.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if out.write(Bytes::copy_from_slice(&buf[..n])).await.is_err() {
                        return;
                    }
                }
            }
        }
        let _ = out.finish().await;
    };
    tokio::pin!(upstream, downstream);
    tokio::select! {
        // The pod closed: its side is finished; the client ends the pair.
        _ = &mut downstream => {}
        clean = &mut upstream => {
            if clean {
                // Half-closed by the client: keep sending what the pod answers.
                downstream.await;
            }
            // Aborted: nothing more goes out on the data stream.
        }
    }
    // An empty error stream tells the client the forward succeeded.
    let _ = error.out.finish().await;
}

/// Serves the WebSocket channel form (`v4.channel.k8s.io`).
pub async fn serve_channels(socket: WebSocket, target: Target, ports: Vec<u16>) {
    let (mut sink, mut source) = socket.split();
    let (tx, mut rx) = mpsc::channel::<Message>(64);
    let writer = tokio::spawn(async move {
        while let Some(m) = rx.recv().await {
            let close = matches!(m, Message::Close(_));
            if sink.send(m).await.is_err() || close {
                break;
            }
        }
        let _ = sink.close().await;
    });
    let frame = |channel: u8, data: &[u8]| {
        let mut v = Vec::with_capacity(data.len() + 1);
        v.push(channel);
        v.extend_from_slice(data);
        Message::Binary(Bytes::from(v))
    };
    // Every channel announces its port first.
    for (i, port) in ports.iter().enumerate() {
        for channel in [2 * i as u8, 2 * i as u8 + 1] {
            let _ = tx.send(frame(channel, &port.to_le_bytes())).await;
        }
    }
    let mut writers = Vec::new();
    let mut readers = tokio::task::JoinSet::new();
    for (i, port) in ports.iter().enumerate() {
        match target.connect(*port).await {
            Ok(socket) => {
                let (mut from_pod, to_pod) = socket.into_split();
                writers.push(Some(to_pod));
                let tx = tx.clone();
                let channel = 2 * i as u8;
                readers.spawn(async move {
                    let mut buf = vec![0u8; 32 * 1024];
                    loop {
                        match from_pod.read(&mut buf).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => {
                                if tx.send(frame(channel, &buf[..n])).await.is_err() {
                                    break;
                                }
                            }
                        }
                    }
                });
            }
            Err(message) => {
                writers.push(None);
                let _ = tx.send(frame(2 * i as u8 + 1, message.as_bytes())).await;
            }
        }
    }
    let client = async {
        while let Some(Ok(m)) = source.next().await {
            let data = match m {
                Message::Binary(d) => d,
                Message::Close(_) => break,
                _ => continue,
            };
            let Some((&channel, payload)) = data.split_first() else {
                continue;
            };
            let index = usize::from(channel / 2);
            if channel % 2 != 0 || payload.is_empty() {
                continue;
            }
            if let Some(Some(w)) = writers.get_mut(index) {
                if w.write_all(payload).await.is_err() {
                    writers[index] = None;
                }
            }
        }
    };
    tokio::select! {
        // The client closed: everything ends.
        _ = client => {}
        // Every pod connection ended: close, as the channels are done.
        _ = async { while readers.join_next().await.is_some() {} } => {}
    }
    readers.abort_all();
    let _ = tx
        .send(Message::Close(Some(CloseFrame {
            code: axum::extract::ws::close_code::NORMAL,
            reason: "".into(),
        })))
        .await;
    drop(tx);
    let _ = tokio::time::timeout(Duration::from_secs(1), writer).await;
}

/// Bridges a WebSocket carrying SPDY in binary messages to a byte stream,
/// then serves SPDY port-forward on it.
pub async fn serve_tunnel(socket: WebSocket, target: Target) {
    let (ours, theirs) = tokio::io::duplex(256 * 1024);
    let (mut read_half, mut write_half) = tokio::io::split(ours);
    let (mut sink, mut source) = socket.split();
    let inbound = async move {
        while let Some(Ok(m)) = source.next().await {
            match m {
                Message::Binary(d) if write_half.write_all(&d).await.is_err() => break,
                Message::Close(_) => break,
                _ => {}
            }
        }
        let _ = write_half.shutdown().await;
    };
    let outbound = async move {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match read_half.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let m = Message::Binary(Bytes::copy_from_slice(&buf[..n]));
                    if sink.send(m).await.is_err() {
                        return;
                    }
                }
            }
        }
        let _ = sink
            .send(Message::Close(Some(CloseFrame {
                code: axum::extract::ws::close_code::NORMAL,
                reason: "".into(),
            })))
            .await;
    };
    let mut bridge = tokio::spawn(async move {
        tokio::join!(inbound, outbound);
    });
    serve_spdy(theirs, target).await;
    // The session is over; give the close a moment to go out.
    if tokio::time::timeout(Duration::from_secs(1), &mut bridge)
        .await
        .is_err()
    {
        bridge.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_parsed_like_the_kubelet() {
        assert_eq!(parse_ports(&["80,443".into()]).unwrap(), vec![80, 443]);
        assert_eq!(
            parse_ports(&["80".into(), "8080".into()]).unwrap(),
            vec![80, 8080]
        );
        assert!(parse_ports(&[]).is_err());
        assert!(parse_ports(&["0".into()]).is_err());
        assert!(parse_ports(&["http".into()]).is_err());
    }
}
