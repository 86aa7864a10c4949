//! The Docker Engine API, served from this process (feature `api`).
//!
//! Every tool that speaks Docker's API — the docker CLI, docker-compose, the
//! testcontainers libraries, bollard — can use an [`Engine`] through a socket this module
//! serves, without a Docker daemon, as podman's compatibility service does:
//!
//! ```no_run
//! # fn main() -> cargohold::Result<()> {
//! let engine = cargohold::Engine::open_default()?;
//! let listener = cargohold::api::Listener::bind("unix:///tmp/cargohold.sock")?;
//! cargohold::api::Server::new(engine).serve(listener)?; // DOCKER_HOST=unix:///tmp/cargohold.sock
//! # Ok(())
//! # }
//! ```
//!
//! Routes are served bare and under any `/v1.N` prefix from [`MIN_API_VERSION`] on (a
//! newer version than [`API_VERSION`] is served as this one, never refused);
//! field names, status codes and error bodies (`{"message": …}`) are Docker's.
//!
//! # How it is made
//! HTTP/1.1 through hyper on a tokio runtime of the server's own (the crates that do
//! HTTP, upgrades and streamed bodies well); the engine is synchronous, so each call
//! runs on tokio's blocking pool and streams (logs, events, pulls) reach the client
//! through channels. `docker exec`/`attach` hijack the connection (`101 UPGRADED`,
//! `Upgrade: tcp`): the upgraded connection is copied to one end of a socket pair whose
//! other end the blocking code reads and writes as a plain stream.
//!
//! The API is root on the host (whoever can reach it can run a privileged container):
//! a unix socket is created mode 0660, owned by the serving user, and TCP is only bound
//! on loopback.

mod container_io;
mod containers;
mod events;
mod exec;
// Parts of it serve the routes still being written (issue 16).
#[allow(dead_code)]
mod http;
mod images;
mod networks;
mod system;
mod volumes;

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::Request;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::{Engine, Error, Result};
use http::{Call, Query, Reply};

/// The API version this server speaks, which `/_ping` and `/version` advertise.
pub const API_VERSION: &str = "1.44";
/// The oldest API version a client may ask for.
pub const MIN_API_VERSION: &str = "1.24";

/// Where the API is served: a unix socket or a TCP port on loopback.
#[derive(Debug)]
pub enum Listener {
    /// A unix socket.
    Unix(std::os::unix::net::UnixListener),
    /// A TCP socket on a loopback address.
    Tcp(std::net::TcpListener),
}

impl Listener {
    /// Binds a unix socket at `path`: its directory made if missing, a stale socket
    /// replaced, mode 0660 (never world-writable).
    ///
    /// # Errors
    /// [`Error::Os`] naming the path; [`Error::InvalidSpec`]-free: a live socket there
    /// (another server answers on it) is [`Error::Os`] with `EADDRINUSE`.
    pub fn unix(path: impl AsRef<Path>) -> Result<Listener> {
        use std::os::unix::fs::PermissionsExt;
        let path = path.as_ref();
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| Error::os("creating", dir, e))?;
        }
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            return Err(Error::os(
                "binding the API socket (a server answers on it)",
                path,
                io::Error::from_raw_os_error(libc::EADDRINUSE),
            ));
        }
        match std::fs::remove_file(path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                return Err(Error::os("replacing the stale socket", path, e))
            }
            _ => {}
        }
        // Bound under a umask that leaves no moment of a wider mode.
        let old = rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o117));
        let bound = std::os::unix::net::UnixListener::bind(path);
        rustix::process::umask(old);
        let l = bound.map_err(|e| Error::os("binding the API socket", path, e))?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660))
            .map_err(|e| Error::os("setting the mode of", path, e))?;
        Ok(Listener::Unix(l))
    }

    /// Binds TCP on `addr`, which must be a loopback address.
    ///
    /// # Errors
    /// [`Error::Unsupported`] for any other address; [`Error::Os`] when it cannot be bound.
    pub fn tcp(addr: SocketAddr) -> Result<Listener> {
        if !addr.ip().is_loopback() {
            return Err(Error::Unsupported {
                what: format!("serving the API on {addr}"),
                reason: "the API is root on this host and carries no authentication: it is \
                         served on loopback (127.0.0.1) or a unix socket only"
                    .into(),
            });
        }
        let l = std::net::TcpListener::bind(addr)
            .map_err(|e| Error::os("binding the API on", addr.to_string(), e))?;
        Ok(Listener::Tcp(l))
    }

    /// Binds what `uri` names: `unix:///path` or `tcp://127.0.0.1:PORT` (Docker's and
    /// podman's forms).
    ///
    /// # Errors
    /// [`Error::InvalidSpec`]-style [`Error::Unsupported`] naming the URI for another
    /// scheme; those of [`unix`](Self::unix) and [`tcp`](Self::tcp).
    pub fn bind(uri: &str) -> Result<Listener> {
        if let Some(path) = uri.strip_prefix("unix://") {
            return Listener::unix(path);
        }
        if let Some(addr) = uri.strip_prefix("tcp://") {
            let addr: SocketAddr = addr.parse().map_err(|_| Error::Unsupported {
                what: format!("the API address {uri:?}"),
                reason: "a TCP address is tcp://127.0.0.1:PORT".into(),
            })?;
            return Listener::tcp(addr);
        }
        Err(Error::Unsupported {
            what: format!("the API address {uri:?}"),
            reason: "it is unix:///path/to/socket or tcp://127.0.0.1:PORT".into(),
        })
    }

    /// The default socket: `/run/cargohold/docker.sock` as root, else
    /// `$XDG_RUNTIME_DIR/cargohold/docker.sock`.
    pub fn default_path() -> PathBuf {
        crate::paths::runtime_dir()
            .join("cargohold")
            .join("docker.sock")
    }
}

/// A server of the API for one engine (see the module docs).
#[derive(Debug, Clone)]
pub struct Server {
    engine: Engine,
    idle: Option<Duration>,
}

/// What the connections of a server share.
#[derive(Debug)]
struct Shared {
    engine: Engine,
    /// Open connections.
    open: AtomicUsize,
    /// When the last connection closed (or the server started).
    quiet_since: Mutex<Instant>,
}

impl Server {
    /// A server of `engine`'s API, serving until the process ends.
    pub fn new(engine: Engine) -> Server {
        Server { engine, idle: None }
    }

    /// Ends [`serve`](Self::serve) once no connection has been open for `idle`
    /// (podman's `system service --time`); `None` (the default) serves for ever.
    pub fn idle_timeout(mut self, idle: Option<Duration>) -> Server {
        self.idle = idle;
        self
    }

    /// Serves on `listener`, blocking the calling thread (the server runs a tokio runtime
    /// of its own), until the idle timeout passes.
    ///
    /// # Errors
    /// [`Error::Os`]: the runtime cannot be made, or accepting fails for good.
    pub fn serve(&self, listener: Listener) -> Result<()> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .thread_name("cargohold-api")
            .build()
            .map_err(|e| Error::os("starting the API server's runtime", "", e))?;
        let shared = Arc::new(Shared {
            engine: self.engine.clone(),
            open: AtomicUsize::new(0),
            quiet_since: Mutex::new(Instant::now()),
        });
        rt.block_on(accept_loop(listener, shared, self.idle))
    }
}

/// Serves the API of `engine` on `listener` for ever: [`Server::serve`] without an idle
/// timeout.
///
/// # Errors
/// As [`Server::serve`].
pub fn serve(engine: Engine, listener: Listener) -> Result<()> {
    Server::new(engine).serve(listener)
}

async fn accept_loop(
    listener: Listener,
    shared: Arc<Shared>,
    idle: Option<Duration>,
) -> Result<()> {
    let accept_err = |e| Error::os("accepting API connections", "", e);
    let idle_check = async {
        match idle {
            None => std::future::pending::<()>().await,
            Some(idle) => loop {
                tokio::time::sleep(Duration::from_millis(200).min(idle)).await;
                let quiet = *shared.quiet_since.lock().unwrap_or_else(|p| p.into_inner());
                if shared.open.load(Ordering::SeqCst) == 0 && quiet.elapsed() >= idle {
                    return;
                }
            },
        }
    };
    tokio::pin!(idle_check);
    let listener = Accepting::new(listener).map_err(accept_err)?;
    loop {
        tokio::select! {
            () = &mut idle_check => return Ok(()),
            r = listener.accept(&shared) => match r {
                Ok(()) => {}
                Err(e) if transient(&e) => continue,
                Err(e) => return Err(accept_err(e)),
            },
        }
    }
}

/// A listener on the server's runtime.
enum Accepting {
    Unix(tokio::net::UnixListener),
    Tcp(tokio::net::TcpListener),
}

impl Accepting {
    fn new(listener: Listener) -> io::Result<Accepting> {
        Ok(match listener {
            Listener::Unix(l) => {
                l.set_nonblocking(true)?;
                Accepting::Unix(tokio::net::UnixListener::from_std(l)?)
            }
            Listener::Tcp(l) => {
                l.set_nonblocking(true)?;
                Accepting::Tcp(tokio::net::TcpListener::from_std(l)?)
            }
        })
    }

    /// Accepts a connection and serves it on a task of its own.
    async fn accept(&self, shared: &Arc<Shared>) -> io::Result<()> {
        match self {
            Accepting::Unix(l) => connection(l.accept().await?.0, Arc::clone(shared)),
            Accepting::Tcp(l) => {
                let (s, _) = l.accept().await?;
                let _ = s.set_nodelay(true);
                connection(s, Arc::clone(shared));
            }
        }
        Ok(())
    }
}

/// Errors of accept(2) that concern one connection (or a passing shortage), not the
/// listener.
fn transient(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(
            libc::ECONNABORTED
                | libc::EINTR
                | libc::EMFILE
                | libc::ENFILE
                | libc::ENOBUFS
                | libc::ENOMEM
                | libc::EPROTO
        )
    )
}

/// Serves one connection on a task of its own.
fn connection<S>(stream: S, shared: Arc<Shared>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    shared.open.fetch_add(1, Ordering::SeqCst);
    tokio::spawn(async move {
        let engine = shared.engine.clone();
        let service = service_fn(move |req| {
            let engine = engine.clone();
            async move { Ok::<_, std::convert::Infallible>(handle(engine, req).await) }
        });
        let _ = http1::Builder::new()
            .serve_connection(TokioIo::new(stream), service)
            .with_upgrades()
            .await;
        *shared.quiet_since.lock().unwrap_or_else(|p| p.into_inner()) = Instant::now();
        shared.open.fetch_sub(1, Ordering::SeqCst);
    });
}

/// One request: the version prefix taken off, routed by its first path segment.
async fn handle(engine: Engine, req: Request<Incoming>) -> Reply {
    let path = req.uri().path().to_owned();
    let (version, rest) = match http::split_version(&path) {
        Ok(v) => v,
        Err(e) => return http::with_headers(e.reply()),
    };
    let segs: Vec<String> = rest
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .map(http::percent_decode)
        .collect();
    let query = Query::parse(req.uri().query().unwrap_or_default());
    let (parts, body) = req.into_parts();
    let call = Call {
        parts,
        body: Some(body),
        segs,
        query,
        engine,
        version,
    };
    let reply = match call.segs.first().map(String::as_str) {
        Some("_ping" | "version" | "info" | "events" | "auth" | "system") => {
            system::route(call).await
        }
        Some("containers") => containers::route(call).await,
        Some("exec") => exec::route(call).await,
        Some("images" | "build" | "commit" | "session" | "distribution") => {
            images::route(call).await
        }
        Some("networks") => networks::route(call).await,
        Some("volumes") => volumes::route(call).await,
        _ => http::not_found(),
    };
    http::with_headers(reply)
}
