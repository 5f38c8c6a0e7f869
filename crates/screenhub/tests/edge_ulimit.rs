//! The real `screenhub serve` under `ulimit -n 512`, with the default edge
//! settings, against more idle connections than it has file descriptors:
//! it answers the excess with 503 (or closes idle holders to make room), never
//! runs out of descriptors, and a normal client from another address is
//! served.

use std::net::{IpAddr, SocketAddr};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::AsyncReadExt;
use tokio::net::{TcpSocket, TcpStream};
use tokio::process::Command;

const OPEN_FILES: u64 = 512;
const ATTACKERS: u8 = 20;
const PER_ATTACKER: usize = 40;

async fn connect_from(from: IpAddr, to: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(from, 0))?;
    socket.connect(to).await
}

/// `Some(true)` answered 503, `Some(false)` closed without an answer, `None`
/// still held open.
async fn fate(stream: &mut TcpStream) -> Option<bool> {
    let mut buf = [0u8; 512];
    match tokio::time::timeout(Duration::from_millis(200), stream.read(&mut buf)).await {
        Ok(Ok(0)) | Ok(Err(_)) => Some(false),
        Ok(Ok(n)) => Some(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 503")),
        Err(_) => None,
    }
}

#[tokio::test]
async fn the_hub_keeps_serving_with_512_file_descriptors_and_800_idle_connections() {
    let needed = (usize::from(ATTACKERS) * PER_ATTACKER + 200) as u64;
    if screenhub::edge::open_file_limit().is_some_and(|n| n < needed) {
        // The attackers live in this process: a missing prerequisite fails in
        // CI and says SKIPPED elsewhere.
        assert!(
            std::env::var_os("CI").is_none(),
            "this test needs `ulimit -n {needed}` or more for its own connections"
        );
        eprintln!("SKIPPED: this test process may open fewer than {needed} files");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let to: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(format!("ulimit -n {OPEN_FILES} && exec \"$0\" serve"))
        .arg(env!("CARGO_BIN_EXE_screenhub"))
        .env("SCREENHUB_LISTEN", to.to_string())
        .env("SCREENHUB_DATA_DIR", dir.path())
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let client = |from: &str| {
        reqwest::Client::builder()
            .local_address(from.parse::<IpAddr>().unwrap())
            .timeout(Duration::from_secs(3))
            .build()
            .unwrap()
    };
    let healthz = format!("http://{to}/healthz");
    let started = Instant::now();
    while client("127.0.0.1").get(&healthz).send().await.is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the hub did not start"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", child.id().unwrap()))
        .unwrap_or_default();
    assert!(
        limits
            .lines()
            .any(|l| l.starts_with("Max open files") && l.contains(" 512 ")),
        "{limits}"
    );

    // 20 addresses open 40 silent connections each: 800, past the 512 files.
    let mut held = Vec::new();
    for attacker in 0..ATTACKERS {
        let from = IpAddr::from([127, 0, 1, attacker + 10]);
        for _ in 0..PER_ATTACKER {
            held.push(connect_from(from, to).await.expect("the hub accepts"));
        }
    }
    let started = Instant::now();
    let res = client("127.0.0.2").get(&healthz).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let served_in = started.elapsed();

    let fates = futures::future::join_all(held.iter_mut().map(fate)).await;
    let open = fates.iter().filter(|f| f.is_none()).count();
    let refused = fates.iter().filter(|f| **f == Some(true)).count();
    let closed = fates.iter().filter(|f| **f == Some(false)).count();
    assert!(
        open <= 256,
        "at most max_connections (half of 512) held: {open}"
    );
    assert!(refused > 0, "the excess is told 503");

    child.start_kill().unwrap();
    let output = child.wait_with_output().await.unwrap();
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(
        !log.contains("Too many open files"),
        "the hub ran out of file descriptors:\n{log}"
    );
    println!(
        "ulimit -n {OPEN_FILES}: {} connections from {ATTACKERS} addresses: {open} held open, \
         {refused} answered 503, {closed} closed to make room or unanswered; \
         a client from 127.0.0.2 got 200 in {served_in:?}",
        held.len()
    );
}
