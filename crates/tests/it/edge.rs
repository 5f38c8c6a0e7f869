//! Hostile connections, with real sockets: clients that connect and send
//! nothing, send half a request, or go quiet after a keep-alive answer. The
//! hub answers connections over its caps with a clear 503, keeps serving a
//! normal client from another address, and closes the held connections.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use screenhub_tests::{client_from, TestHub};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

const HEADER_READ_TIMEOUT_MS: u64 = 1_000;
const IDLE_TIMEOUT_MS: u64 = 1_500;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Hold {
    /// Connects and sends nothing.
    Silent,
    /// Sends the start of a request and never finishes its headers.
    HalfSent,
    /// Gets one answer on a keep-alive connection, then goes quiet.
    IdleAfterAnswer,
}

async fn connect_from(from: &str, to: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket
        .bind(SocketAddr::new(from.parse::<IpAddr>().unwrap(), 0))
        .unwrap();
    socket.connect(to).await.unwrap()
}

/// Read one response head (and its body, by Content-Length), or `None`
/// when nothing arrives within `wait`.
async fn read_answer(stream: &mut TcpStream, wait: Duration) -> Option<String> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let n = match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Ok(Ok(n)) => n,
            Ok(Err(_)) | Err(_) => 0,
        };
        if n == 0 {
            return (!got.is_empty()).then(|| String::from_utf8_lossy(&got).into_owned());
        }
        got.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&got);
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length = head
                .lines()
                .find_map(|l| {
                    let (name, value) = l.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            if body.len() >= length {
                return Some(text.into_owned());
            }
        }
    }
}

/// Open a connection that holds on in the given way. `Err(answer)` when the
/// hub refused it.
async fn hold(from: &str, to: SocketAddr, how: Hold) -> Result<TcpStream, String> {
    let stream = start_holding(from, to, how).await?;
    refused_at_once(stream).await
}

/// Open a connection and send what it sends; `Err` when a request that
/// expected an answer got a refusal instead.
async fn start_holding(from: &str, to: SocketAddr, how: Hold) -> Result<TcpStream, String> {
    let mut stream = connect_from(from, to).await;
    match how {
        Hold::Silent => {}
        Hold::HalfSent => {
            let _ = stream
                .write_all(b"GET /healthz HTTP/1.1\r\nHost: hub\r\nX-Slow: ")
                .await;
        }
        Hold::IdleAfterAnswer => {
            let _ = stream
                .write_all(b"GET /healthz HTTP/1.1\r\nHost: hub\r\n\r\n")
                .await;
            let answer = read_answer(&mut stream, Duration::from_secs(2))
                .await
                .unwrap_or_default();
            if !answer.starts_with("HTTP/1.1 200") {
                return Err(answer);
            }
        }
    }
    Ok(stream)
}

/// A refused connection gets its 503 straight away.
async fn refused_at_once(mut stream: TcpStream) -> Result<TcpStream, String> {
    match read_answer(&mut stream, Duration::from_millis(300)).await {
        Some(answer) => Err(answer),
        None => Ok(stream),
    }
}

/// Wait until the hub closes the connection; how long it took.
async fn closed_within(mut stream: TcpStream, limit: Duration) -> Option<Duration> {
    let started = Instant::now();
    let mut buf = [0u8; 1024];
    loop {
        match tokio::time::timeout(
            limit.saturating_sub(started.elapsed()),
            stream.read(&mut buf),
        )
        .await
        {
            Ok(Ok(0)) | Ok(Err(_)) => return Some(started.elapsed()),
            Ok(Ok(_)) => continue,
            Err(_) => return None,
        }
    }
}

async fn healthz_from(address: &str, hub: &TestHub) -> u16 {
    client_from(address)
        .get(format!("{}/healthz", hub.url()))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn held_connections_are_capped_and_closed_while_others_are_served() {
    let hub = TestHub::spawn_with(|c| {
        c.header_read_timeout_ms = HEADER_READ_TIMEOUT_MS;
        c.idle_timeout_ms = IDLE_TIMEOUT_MS;
        c.max_connections = 40;
        c.max_connections_per_client = 8;
    })
    .await;
    let to = hub.hub.addr;
    let kinds = [Hold::Silent, Hold::HalfSent, Hold::IdleAfterAnswer];

    // Two attacking addresses, each opening 3 × 8 connections at once: three
    // times the per-client cap.
    let mut opened = Vec::new();
    let mut refused = Vec::new();
    for from in ["127.0.0.1", "127.0.0.3"] {
        for i in 0..24 {
            let kind = kinds[i % kinds.len()];
            {
                match start_holding(from, to, kind).await {
                    Ok(stream) => opened.push((kind, stream)),
                    Err(answer) => refused.push(answer),
                }
            }
        }
    }
    let mut held = Vec::new();
    let checked = futures::future::join_all(
        opened
            .into_iter()
            .map(|(kind, stream)| async move { (kind, refused_at_once(stream).await) }),
    )
    .await;
    for (kind, result) in checked {
        match result {
            Ok(stream) => held.push((kind, stream)),
            Err(answer) => refused.push(answer),
        }
    }
    assert_eq!(held.len(), 16, "each address holds its cap of 8");
    for kind in kinds {
        assert!(held.iter().any(|(k, _)| *k == kind), "{kind:?} held");
    }
    assert_eq!(refused.len(), 32);
    for answer in &refused {
        assert!(
            answer.starts_with("HTTP/1.1 503")
                && answer.contains("retry-after: 1")
                && answer.contains("max_connections_per_client"),
            "a refused connection is told why: {answer}"
        );
    }

    // A normal client from another address is served at once.
    let started = Instant::now();
    assert_eq!(healthz_from("127.0.0.2", &hub).await, 200);
    let served_in = started.elapsed();
    assert!(served_in < Duration::from_secs(1), "{served_in:?}");

    // Every held connection is closed by the hub: silent and half-sent ones
    // after the header-read timeout, quiet keep-alive ones after the idle
    // timeout (counted from their answer, a little earlier).
    let mut closed = Vec::new();
    for (kind, stream) in held {
        closed.push(tokio::spawn(async move {
            (kind, closed_within(stream, Duration::from_secs(5)).await)
        }));
    }
    for task in closed {
        let (kind, after) = task.await.unwrap();
        let after = after.unwrap_or_else(|| panic!("a {kind:?} connection was never closed"));
        let limit = match kind {
            Hold::IdleAfterAnswer => IDLE_TIMEOUT_MS,
            _ => HEADER_READ_TIMEOUT_MS,
        };
        assert!(
            after <= Duration::from_millis(limit + 1_000),
            "{kind:?} closed after {after:?}"
        );
    }

    // The places are free again.
    let res = reqwest::get(format!("{}/healthz", hub.url()))
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    println!(
        "edge: 48 hostile connections from 2 addresses: 16 held (cap 8 each), 32 refused with 503; \
         a client from 127.0.0.2 served in {served_in:?}; every held connection closed by the hub"
    );
}

#[tokio::test]
async fn at_the_overall_cap_idle_holders_make_room_for_a_new_client() {
    let hub = TestHub::spawn_with(|c| {
        c.header_read_timeout_ms = 10_000;
        c.idle_timeout_ms = 10_000;
        c.max_connections = 12;
        c.max_connections_per_client = 4;
    })
    .await;
    let to = hub.hub.addr;
    // Three addresses fill the overall cap with silent connections.
    let mut held = Vec::new();
    for from in ["127.0.0.1", "127.0.0.3", "127.0.0.4"] {
        for _ in 0..4 {
            held.push(hold(from, to, Hold::Silent).await.expect("under the caps"));
        }
    }
    // The timeouts are long, yet a new client is served straight away: an idle
    // holder's connection is closed to make room.
    assert_eq!(healthz_from("127.0.0.2", &hub).await, 200);
    let mut evicted = 0;
    for stream in held {
        if closed_within(stream, Duration::from_millis(200))
            .await
            .is_some()
        {
            evicted += 1;
        }
    }
    assert_eq!(evicted, 1, "one idle holder made room");
}
