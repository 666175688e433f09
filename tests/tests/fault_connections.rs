//! Misbehaving connections cannot hold the API server: a client that never
//! finishes its headers (slowloris) or its body is dropped after a bounded
//! time, an idle keep-alive connection is closed, and past the connection
//! limit a new connection is answered 429 with a `Status` and `Retry-After`
//! — while /healthz keeps answering throughout.
//!
//! Raw TCP on 127.0.0.1 with small limits set through `Config`, so each test
//! takes a few seconds.

use crate::support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use minik_tests::{body_json, read_until_closed, request, status_code};
use support::TestCluster;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn addr(c: &TestCluster) -> SocketAddr {
    c.server.as_ref().expect("running").addr
}

async fn healthz(addr: SocketAddr) -> u16 {
    status_code(&request(addr, "GET", "/healthz", None).await)
}

#[tokio::test]
async fn slowloris_and_idle_connections_are_dropped() {
    let c = TestCluster::start_with(|cfg| {
        // Raw HTTP/1.1 sockets: the plain listener.
        cfg.tls = None;
        cfg.request_header_timeout = Duration::from_secs(1);
    })
    .await;
    let addr = addr(&c);
    // 300 clients that start a request and never finish its headers.
    let mut slow = Vec::new();
    for _ in 0..300 {
        let mut s = TcpStream::connect(addr).await.expect("connect");
        s.write_all(b"GET /api/v1/namespaces HTTP/1.1\r\nHost: minik\r\nX-Slow: ")
            .await
            .expect("send");
        slow.push(s);
    }
    // An idle keep-alive connection after one complete request.
    let mut idle = TcpStream::connect(addr).await.expect("connect");
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: minik\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 1024];
    let n = idle.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    assert_eq!(healthz(addr).await, 200, "healthz answers meanwhile");

    let started = Instant::now();
    for (i, s) in slow.iter_mut().enumerate() {
        let left = Duration::from_secs(4).saturating_sub(started.elapsed());
        let answer = read_until_closed(s, left).await;
        assert!(answer.is_some(), "slow connection {i} still open after 4s");
    }
    assert!(
        read_until_closed(&mut idle, Duration::from_secs(3))
            .await
            .is_some(),
        "an idle keep-alive connection is closed"
    );
    assert_eq!(healthz(addr).await, 200);
    println!(
        "fault_connections: 300 slowloris connections dropped within {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn bodies_that_never_arrive_end_the_request() {
    let c = TestCluster::start_with(|cfg| {
        // Raw HTTP/1.1 sockets: the plain listener.
        cfg.tls = None;
        cfg.request_body_timeout = Duration::from_secs(1);
    })
    .await;
    let addr = addr(&c);
    let path = "/api/v1/namespaces/default/configmaps";

    // 2 GiB announced, 64 KiB sent: over the 3 MiB limit, refused at once.
    let mut s = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: minik\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        2u64 << 30
    );
    s.write_all(head.as_bytes()).await.unwrap();
    let _ = s.write_all(&vec![b' '; 64 * 1024]).await;
    let started = Instant::now();
    let answer = read_until_closed(&mut s, Duration::from_secs(5))
        .await
        .expect("the request ends");
    assert_eq!(status_code(&answer), 413, "{answer}");
    assert_eq!(body_json(&answer)["reason"], "RequestEntityTooLarge");
    assert!(started.elapsed() < Duration::from_secs(2));

    // Within the limit but stalled: 408 after the body timeout.
    let mut s = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: minik\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{{\"metadata\":"
    );
    s.write_all(head.as_bytes()).await.unwrap();
    let answer = read_until_closed(&mut s, Duration::from_secs(4))
        .await
        .expect("a stalled body ends within the body timeout");
    assert_eq!(status_code(&answer), 408, "{answer}");
    assert_eq!(body_json(&answer)["kind"], "Status");

    // Cut short (the client stops sending): 400, not 413.
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(head.as_bytes()).await.unwrap();
    s.shutdown().await.unwrap();
    let answer = read_until_closed(&mut s, Duration::from_secs(4))
        .await
        .expect("a truncated body ends the request");
    assert_eq!(status_code(&answer), 400, "{answer}");
    assert_eq!(body_json(&answer)["reason"], "BadRequest");

    assert_eq!(healthz(addr).await, 200);
}

#[tokio::test]
async fn connections_past_the_limit_are_refused_clearly() {
    const LIMIT: usize = 20;
    let c = TestCluster::start_with(|cfg| {
        // Raw HTTP/1.1 sockets: the plain listener.
        cfg.tls = None;
        cfg.max_connections = LIMIT;
    })
    .await;
    let addr = addr(&c);
    // The limit's worth of idle connections (and a few more, which are
    // refused and closed by the server).
    let mut idle = Vec::new();
    for _ in 0..LIMIT + 5 {
        idle.push(TcpStream::connect(addr).await.expect("connect"));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;

    // The health probes are still answered past the limit ...
    assert_eq!(healthz(addr).await, 200);
    // ... anything else gets a clear refusal.
    let answer = request(addr, "GET", "/api/v1/namespaces", None).await;
    assert_eq!(status_code(&answer), 429, "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("retry-after: 1"),
        "{answer}"
    );
    let status = body_json(&answer);
    assert_eq!(status["kind"], "Status");
    assert_eq!(status["reason"], "TooManyRequests");
    assert_eq!(status["details"]["retryAfterSeconds"], 1);

    // Once the idle connections go, the server serves again.
    drop(idle);
    let started = Instant::now();
    loop {
        let code = status_code(&request(addr, "GET", "/api/v1/namespaces", None).await);
        if code == 200 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "still refused: {code}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn watches_outlive_the_header_timeout() {
    let c = TestCluster::start_with(|cfg| {
        // Raw HTTP/1.1 sockets: the plain listener.
        cfg.tls = None;
        cfg.request_header_timeout = Duration::from_secs(1);
        cfg.max_connections = 20;
    })
    .await;
    let addr = addr(&c);
    // Ten watches: long-running requests, not idle connections.
    let mut watches = Vec::new();
    for _ in 0..10 {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(
            b"GET /api/v1/namespaces/default/configmaps?watch=true HTTP/1.1\r\nHost: minik\r\n\r\n",
        )
        .await
        .unwrap();
        watches.push(s);
    }
    // Past the header timeout, then a change every watch must see.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mut post = TcpStream::connect(addr).await.unwrap();
    let body = r#"{"metadata":{"name":"seen"},"data":{"k":"v"}}"#;
    let req = format!(
        "POST /api/v1/namespaces/default/configmaps HTTP/1.1\r\nHost: minik\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    post.write_all(req.as_bytes()).await.unwrap();
    let answer = read_until_closed(&mut post, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(status_code(&answer), 201, "{answer}");
    for (i, w) in watches.iter_mut().enumerate() {
        let mut seen = String::new();
        let mut buf = [0u8; 8192];
        let deadline = Instant::now() + Duration::from_secs(3);
        while !seen.contains("\"seen\"") {
            let left = deadline
                .checked_duration_since(Instant::now())
                .unwrap_or_else(|| panic!("watch {i} saw nothing: {seen:?}"));
            match tokio::time::timeout(left, w.read(&mut buf)).await {
                Ok(Ok(n)) if n > 0 => seen.push_str(&String::from_utf8_lossy(&buf[..n])),
                other => panic!("watch {i} ended: {other:?} after {seen:?}"),
            }
        }
        assert!(seen.contains("ADDED"), "{seen}");
    }
}
