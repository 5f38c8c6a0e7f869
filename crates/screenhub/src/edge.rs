//! The connection layer: serve HTTP/1.1 with hyper so that nobody without a key
//! can exhaust the process. Every connection must send its request headers in
//! time and is closed once idle; connections are capped overall and per client
//! address; and past a cap a new connection is answered 503 and closed while
//! accepting goes on, so file descriptors never run out.

use std::collections::HashMap;
use std::convert::Infallible;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

use crate::config::{Config, Network};

/// At most this many refused connections are being answered at once; past
/// it a refused connection is closed without an answer.
const SHEDDING_AT_ONCE: usize = 32;
/// How long a refused connection gets to take its 503.
const SHED_LINGER: Duration = Duration::from_secs(1);

/// The limits in force, with the automatic caps worked out.
#[derive(Debug, Clone)]
pub struct EdgeLimits {
    pub header_read_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_connections: usize,
    pub max_per_client: usize,
    pub trusted_proxies: Arc<[Network]>,
}

/// The process's open-file limit (the soft one, which is what `ulimit -n` shows).
pub fn open_file_limit() -> Option<u64> {
    rustix::process::getrlimit(rustix::process::Resource::Nofile).current
}

/// Half the open-file limit for client connections; the rest is left for the
/// database, outbound deliveries and the answers to refused connections.
pub fn auto_max_connections(open_files: Option<u64>) -> usize {
    open_files.map_or(4096, |n| (n / 2).clamp(16, 1 << 20) as usize)
}

pub fn auto_max_per_client(max_connections: usize) -> usize {
    (max_connections / 8).max(8)
}

impl EdgeLimits {
    pub fn from_config(config: &Config) -> Self {
        let max_connections = match config.max_connections {
            0 => auto_max_connections(open_file_limit()),
            n => n,
        };
        let max_per_client = match config.max_connections_per_client {
            0 => auto_max_per_client(max_connections),
            n => n,
        };
        Self {
            header_read_timeout: Duration::from_millis(config.header_read_timeout_ms),
            idle_timeout: Duration::from_millis(config.idle_timeout_ms),
            max_connections,
            max_per_client,
            trusted_proxies: config.trusted_proxies.clone().into(),
        }
    }

    pub fn is_trusted_proxy(&self, ip: IpAddr) -> bool {
        is_trusted(&self.trusted_proxies, ip)
    }
}

pub fn is_trusted(proxies: &[Network], ip: IpAddr) -> bool {
    let ip = ip.to_canonical();
    proxies.iter().any(|net| net.contains(ip))
}

/// Serve `app` on `listener` until `shutdown`, then let the connections in
/// flight finish their requests.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: EdgeLimits,
    shutdown: CancellationToken,
) -> io::Result<()> {
    tracing::debug!(
        max_connections = limits.max_connections,
        max_per_client = limits.max_per_client,
        "serving HTTP"
    );
    let limits = Arc::new(limits);
    let open = Arc::new(OpenConnections::default());
    let shedding = Arc::new(Semaphore::new(SHEDDING_AT_ONCE));
    let connections = TaskTracker::new();
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors or a connection reset before it
                    // was accepted: wait a moment rather than spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = shutdown.cancelled() => break,
        };
        let exempt = limits.is_trusted_proxy(peer.ip());
        let activity = Arc::new(Mutex::new(Activity::new(Instant::now())));
        let evict = CancellationToken::new();
        match open.admit(&limits, peer.ip(), exempt, &activity, &evict) {
            Ok(slot) => {
                let connection = Connection {
                    peer,
                    activity,
                    evict,
                    shutdown: shutdown.clone(),
                };
                let (app, limits) = (app.clone(), limits.clone());
                connections.spawn(async move {
                    connection.serve(stream, app, &limits).await;
                    drop(slot);
                });
            }
            Err(cap) => {
                tracing::debug!(%peer, cap, "connection refused: at the cap");
                if let Ok(permit) = shedding.clone().try_acquire_owned() {
                    tokio::spawn(async move {
                        refuse(stream, cap).await;
                        drop(permit);
                    });
                }
            }
        }
    }
    drop(listener);
    connections.close();
    connections.wait().await;
    Ok(())
}

/// The open connections, counted overall and by client address.
#[derive(Default)]
struct OpenConnections {
    registry: Mutex<Registry>,
}

#[derive(Default)]
struct Registry {
    total: usize,
    by_ip: HashMap<IpAddr, usize>,
    connections: HashMap<u64, Entry>,
    next_id: u64,
}

struct Entry {
    /// `None` for a trusted proxy, which counts overall only.
    ip: Option<IpAddr>,
    activity: Arc<Mutex<Activity>>,
    evict: CancellationToken,
}

/// One admitted connection; gives its place back when dropped.
struct Slot {
    open: Arc<OpenConnections>,
    id: u64,
}

impl Registry {
    fn release(&mut self, id: u64) -> Option<Entry> {
        let entry = self.connections.remove(&id)?;
        self.total -= 1;
        if let Some(ip) = entry.ip {
            if let Some(n) = self.by_ip.get_mut(&ip) {
                *n -= 1;
                if *n == 0 {
                    self.by_ip.remove(&ip);
                }
            }
        }
        Some(entry)
    }

    /// At the overall cap, the connection to close for a newcomer: one with
    /// no request in flight, from the address holding the most connections,
    /// idle the longest. So a client from a new address is served while
    /// others merely hold connections open.
    fn idlest(&self) -> Option<u64> {
        self.connections
            .iter()
            .filter_map(|(id, entry)| {
                let activity = lock(&entry.activity);
                let held = entry.ip.and_then(|ip| self.by_ip.get(&ip)).copied();
                (activity.in_flight == 0).then(|| (held.unwrap_or(0), activity.idle_since, *id))
            })
            .max_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)))
            .map(|(_, _, id)| id)
    }
}

impl OpenConnections {
    /// A slot, or `Err(which cap)` when the connection must be refused.
    fn admit(
        self: &Arc<Self>,
        limits: &EdgeLimits,
        ip: IpAddr,
        exempt: bool,
        activity: &Arc<Mutex<Activity>>,
        evict: &CancellationToken,
    ) -> Result<Slot, &'static str> {
        let mut registry = self.registry.lock().unwrap_or_else(|p| p.into_inner());
        if !exempt && registry.by_ip.get(&ip).copied().unwrap_or(0) >= limits.max_per_client {
            return Err("max_connections_per_client");
        }
        if registry.total >= limits.max_connections {
            let victim = registry.idlest().ok_or("max_connections")?;
            if let Some(evicted) = registry.release(victim) {
                evicted.evict.cancel();
            }
        }
        if !exempt {
            *registry.by_ip.entry(ip).or_insert(0) += 1;
        }
        registry.total += 1;
        let id = registry.next_id;
        registry.next_id += 1;
        registry.connections.insert(
            id,
            Entry {
                ip: (!exempt).then_some(ip),
                activity: activity.clone(),
                evict: evict.clone(),
            },
        );
        Ok(Slot {
            open: self.clone(),
            id,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut registry = self.open.registry.lock().unwrap_or_else(|p| p.into_inner());
        registry.release(self.id);
    }
}

/// Answer a connection over a cap with a 503 and close it. The request is
/// drained briefly so that closing does not reset the connection before the
/// client has read the answer.
async fn refuse(mut stream: TcpStream, cap: &str) {
    let body = format!(
        "{{\"error\":{{\"code\":\"overloaded\",\"message\":\"the server is at its connection limit ({cap}); try again in a moment\"}}}}"
    );
    let answer = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 1\r\n\
         connection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    let _ = tokio::time::timeout(SHED_LINGER, async {
        stream.write_all(answer.as_bytes()).await?;
        stream.shutdown().await?;
        let mut sink = [0u8; 4096];
        while stream.read(&mut sink).await? > 0 {}
        io::Result::Ok(())
    })
    .await;
}

/// One admitted connection and what may end it early.
struct Connection {
    peer: SocketAddr,
    activity: Arc<Mutex<Activity>>,
    /// Cancelled to make room for a newcomer at the overall cap.
    evict: CancellationToken,
    shutdown: CancellationToken,
}

impl Connection {
    /// Serve the connection, closing it when it dawdles (see `Activity`).
    async fn serve(self, stream: TcpStream, app: Router, limits: &EdgeLimits) {
        let Self {
            peer,
            activity,
            evict,
            shutdown,
        } = self;
        let _ = stream.set_nodelay(true);
        let io = TokioIo::new(Watched {
            inner: stream,
            activity: activity.clone(),
        });
        let tracked = activity.clone();
        let service = tower::service_fn(move |mut request: http::Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            let in_flight = InFlight::begin(&tracked);
            let app = app.clone();
            async move {
                let response = app.oneshot(request).await;
                drop(in_flight);
                Ok::<_, Infallible>(response.unwrap_or_else(|never| match never {}))
            }
        });
        let mut builder = hyper::server::conn::http1::Builder::new();
        // hyper's own header timer is a backstop; `Activity` applies the limits.
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_read_timeout.max(limits.idle_timeout));
        let connection = builder.serve_connection(io, TowerToHyperService::new(service));
        tokio::pin!(connection);
        let mut closing = false;
        loop {
            let deadline = lock(&activity).deadline(limits);
            tokio::select! {
                result = connection.as_mut() => {
                    if let Err(e) = result {
                        tracing::debug!(%peer, error = %e, "connection ended with an error");
                    }
                    return;
                }
                () = shutdown.cancelled(), if !closing => {
                    closing = true;
                    connection.as_mut().graceful_shutdown();
                }
                () = evict.cancelled(), if !closing => {
                    if lock(&activity).in_flight == 0 {
                        tracing::debug!(%peer, "closing an idle connection to make room at max_connections");
                        return;
                    }
                    // A request began since it was picked: let it finish.
                    closing = true;
                    connection.as_mut().graceful_shutdown();
                }
                () = tokio::time::sleep_until(deadline) => {
                    if lock(&activity).expired(limits, Instant::now()) {
                        tracing::debug!(%peer, "closing a connection that sent no request in time");
                        return;
                    }
                }
            }
        }
    }
}

fn lock(activity: &Mutex<Activity>) -> std::sync::MutexGuard<'_, Activity> {
    activity.lock().unwrap_or_else(|p| p.into_inner())
}

/// What a connection has been doing, to decide when it has waited too long:
/// a new connection must send its request headers within the header-read
/// timeout; after an answer it may stay silent for the idle timeout, and once
/// it starts the next request, it must finish the headers within the
/// header-read timeout. A request in flight is bounded by the handler timeout.
struct Activity {
    in_flight: usize,
    answered: u64,
    /// When the connection last had no request in flight.
    idle_since: Instant,
    /// The first byte received since then.
    first_byte: Option<Instant>,
}

impl Activity {
    fn new(now: Instant) -> Self {
        Self {
            in_flight: 0,
            answered: 0,
            idle_since: now,
            first_byte: None,
        }
    }

    fn deadline(&self, limits: &EdgeLimits) -> Instant {
        if self.in_flight > 0 {
            // Look again later; the handler timeout bounds the request.
            return Instant::now() + limits.idle_timeout;
        }
        match (self.answered, self.first_byte) {
            (0, _) => self.idle_since + limits.header_read_timeout,
            (_, Some(first)) => first + limits.header_read_timeout,
            (_, None) => self.idle_since + limits.idle_timeout,
        }
    }

    fn expired(&self, limits: &EdgeLimits, now: Instant) -> bool {
        self.in_flight == 0 && now >= self.deadline(limits)
    }

    fn received(&mut self, now: Instant) {
        if self.in_flight == 0 && self.first_byte.is_none() {
            self.first_byte = Some(now);
        }
    }
}

/// A request being answered; marks the connection idle again when dropped.
struct InFlight(Arc<Mutex<Activity>>);

impl InFlight {
    fn begin(activity: &Arc<Mutex<Activity>>) -> Self {
        let mut a = lock(activity);
        a.in_flight += 1;
        a.first_byte = None;
        drop(a);
        Self(activity.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut a = lock(&self.0);
        a.in_flight -= 1;
        if a.in_flight == 0 {
            a.answered += 1;
            a.idle_since = Instant::now();
            a.first_byte = None;
        }
    }
}

/// The socket, noting when bytes arrive.
struct Watched {
    inner: TcpStream,
    activity: Arc<Mutex<Activity>>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            lock(&self.activity).received(Instant::now());
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> EdgeLimits {
        EdgeLimits {
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(30),
            max_connections: 3,
            max_per_client: 2,
            trusted_proxies: Arc::from(vec!["10.0.0.0/8".parse::<Network>().unwrap()]),
        }
    }

    struct Opened {
        _slot: Slot,
        activity: Arc<Mutex<Activity>>,
        evict: CancellationToken,
    }

    fn open(
        connections: &Arc<OpenConnections>,
        ip: &str,
        busy: bool,
    ) -> Result<Opened, &'static str> {
        let activity = Arc::new(Mutex::new(Activity::new(Instant::now())));
        lock(&activity).in_flight = usize::from(busy);
        let evict = CancellationToken::new();
        let slot = connections.admit(&limits(), ip.parse().unwrap(), false, &activity, &evict)?;
        Ok(Opened {
            _slot: slot,
            activity,
            evict,
        })
    }

    #[test]
    fn caps_hold_per_client_and_free_up() {
        let connections = Arc::new(OpenConnections::default());
        let first = open(&connections, "127.0.0.1", false).unwrap();
        let _second = open(&connections, "127.0.0.1", false).unwrap();
        assert_eq!(
            open(&connections, "127.0.0.1", false).err(),
            Some("max_connections_per_client")
        );
        drop(first);
        assert!(open(&connections, "127.0.0.1", false).is_ok());
    }

    #[test]
    fn at_the_overall_cap_an_idle_holder_makes_room_and_a_busy_one_does_not() {
        let connections = Arc::new(OpenConnections::default());
        let a1 = open(&connections, "127.0.0.1", false).unwrap();
        let a2 = open(&connections, "127.0.0.1", false).unwrap();
        let b = open(&connections, "127.0.0.2", false).unwrap();
        // Full (3): a newcomer evicts an idle connection of the biggest holder.
        let c = open(&connections, "127.0.0.3", true).unwrap();
        assert!(a1.evict.is_cancelled() || a2.evict.is_cancelled());
        assert!(!b.evict.is_cancelled());
        lock(&a1.activity).in_flight = 1;
        lock(&a2.activity).in_flight = 1;
        lock(&b.activity).in_flight = 1;
        // Everyone still open is busy: the newcomer is refused.
        assert_eq!(
            open(&connections, "127.0.0.4", false).err(),
            Some("max_connections")
        );
        drop(c);
    }

    #[test]
    fn the_automatic_caps_follow_the_open_file_limit() {
        assert_eq!(auto_max_connections(Some(512)), 256);
        assert_eq!(auto_max_per_client(256), 32);
        assert_eq!(auto_max_connections(Some(20)), 16);
        assert_eq!(auto_max_per_client(16), 8);
    }

    #[test]
    fn deadlines_follow_what_the_connection_is_doing() {
        let limits = limits();
        let start = Instant::now();
        let mut a = Activity::new(start);
        assert_eq!(a.deadline(&limits), start + limits.header_read_timeout);
        a.answered = 1;
        assert_eq!(a.deadline(&limits), start + limits.idle_timeout);
        let later = start + Duration::from_secs(5);
        a.received(later);
        assert_eq!(a.deadline(&limits), later + limits.header_read_timeout);
        assert!(a.expired(&limits, later + limits.header_read_timeout));
        a.in_flight = 1;
        assert!(!a.expired(&limits, later + Duration::from_secs(3600)));
    }

    #[test]
    fn trusted_proxies_match_mapped_addresses_too() {
        let limits = limits();
        assert!(limits.is_trusted_proxy("10.1.2.3".parse().unwrap()));
        assert!(limits.is_trusted_proxy("::ffff:10.1.2.3".parse().unwrap()));
        assert!(!limits.is_trusted_proxy("11.1.2.3".parse().unwrap()));
    }
}
