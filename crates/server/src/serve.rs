//! TLS and the accept loop. Each connection gets its own task and a time
//! limit for every stage a client controls: the TLS handshake, each
//! request's headers (hyper's header-read timeout, also the keep-alive
//! idle time) and each request's body and answer (`api::handle`). The
//! number of open connections is capped, so a slow client costs one
//! task and one connection slot, never a vault handle it does not use.
//!
//! On SIGTERM or Ctrl-C the loop stops accepting, every open connection
//! finishes the request it is answering (idle ones close at once), and
//! `serve` then stops its SIEM streamer, which lets go of its sink leases so
//! another replica takes over at once instead of after the lease.
//!
//! Client certificates are optional at the TLS layer (so `/v1/ca` and
//! `/v1/join` work without one), but one that is presented must chain to
//! the server's CA; which device it belongs to, and whether that device is
//! still enrolled, the vault decides per request.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{Context, Result};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use rustls::RootCertStore;
use rustls::server::WebPkiClientVerifier;
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;

use crate::App;
use crate::device::CertHash;

/// The server's TLS configuration: its certificate for `hostnames`, fresh
/// from the CA, and client certificates checked against the CA.
pub fn tls_config(app: &App, hostnames: &[String]) -> Result<rustls::ServerConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    roots
        .add(app.ca.der().clone())
        .context("the CA certificate is not usable as a trust anchor")?;
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .allow_unauthenticated()
        .build()
        .context("cannot set up client certificate checks")?;
    let (chain, key) = app.ca.server_identity(hostnames)?;
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .context("cannot use the server certificate")?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// How long open connections get to finish their requests at shutdown.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

/// Serves until `shutdown` completes, then lets the open connections
/// finish (at most [`SHUTDOWN_GRACE`]).
pub async fn run(
    app: Arc<App>,
    listener: TcpListener,
    tls: rustls::ServerConfig,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let acceptor = TlsAcceptor::from(Arc::new(tls));
    let slots = Arc::new(Semaphore::new(app.limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let (tcp, addr) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of file descriptors and the like: wait, do not spin.
                eprintln!("twofill-server: accept failed: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            eprintln!("twofill-server: too many connections; closing the one from {addr}");
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let app = Arc::clone(&app);
        let acceptor = acceptor.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let _slot = slot;
            connection(app, acceptor, tcp, addr, watcher).await;
        });
    }
    drop(listener);
    let open = graceful.count();
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        eprintln!(
            "twofill-server: connections still busy after {} s; closing them",
            SHUTDOWN_GRACE.as_secs()
        );
    } else if open > 0 {
        eprintln!("twofill-server: {open} open connections finished");
    }
}

/// Resolves on SIGTERM (a service manager stopping the server) or Ctrl-C.
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
                return;
            }
            Err(e) => eprintln!("twofill-server: cannot watch for SIGTERM: {e}"),
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

async fn connection(
    app: Arc<App>,
    acceptor: TlsAcceptor,
    tcp: tokio::net::TcpStream,
    addr: SocketAddr,
    shutdown: Watcher,
) {
    let tls = match tokio::time::timeout(app.limits.tls_handshake(), acceptor.accept(tcp)).await {
        Ok(Ok(tls)) => tls,
        // A failed handshake (a certificate from another CA, not TLS at
        // all) is the client's problem; rustls already sent the alert.
        Ok(Err(_)) | Err(_) => return,
    };
    let peer: CertHash = tls
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|chain| chain.first())
        .map(|leaf| Sha256::digest(leaf).into());
    let header_read = app.limits.header_read();
    let service = service_fn(move |request| {
        let app = Arc::clone(&app);
        async move { Ok::<_, Infallible>(crate::api::handle(app, request, peer, addr.ip()).await) }
    });
    let connection = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(header_read)
        .serve_connection(TokioIo::new(tls), service);
    let served = shutdown.watch(connection).await;
    if let Err(e) = served
        && !e.is_timeout()
        && !e.is_incomplete_message()
    {
        eprintln!("twofill-server: connection from {addr}: {e}");
    }
}
