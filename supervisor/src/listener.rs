//! The one listening socket every worker inherits. Bound here, kept open by the supervisor
//! for its whole life, so a worker that exits never takes queued connections with it.

use std::io;
use std::net::{SocketAddr, TcpListener, ToSocketAddrs};

use socket2::{Domain, Protocol, Socket, Type};

/// The accept queue length (the kernel caps it at `net.core.somaxconn`).
const BACKLOG: i32 = 4096;
/// LiteLLM's default port.
pub const DEFAULT_PORT: u16 = 4000;

#[derive(Debug, thiserror::Error)]
pub enum BindError {
    #[error("could not resolve --host `{host}`: {source}")]
    Resolve { host: String, source: io::Error },
    #[error("could not listen on {addr}: {source}")]
    Listen { addr: SocketAddr, source: io::Error },
}

/// Binds `host:port` with SO_REUSEADDR and SO_REUSEPORT. When no port was given and the
/// default 4000 is taken, a free port is used instead (as LiteLLM's CLI does); an explicit
/// port is never changed.
pub fn bind(host: &str, port: Option<u16>) -> Result<TcpListener, BindError> {
    let wanted = port.unwrap_or(DEFAULT_PORT);
    let addr = resolve(host, wanted)?;
    match listen(addr) {
        Err(BindError::Listen { source, .. })
            if port.is_none() && source.kind() == io::ErrorKind::AddrInUse =>
        {
            let fallback = SocketAddr::new(addr.ip(), 0);
            let listener = listen(fallback)?;
            tracing::warn!(
                target: "haimaker::supervisor",
                "port {DEFAULT_PORT} is in use; listening on a free port instead (pass --port to choose)"
            );
            Ok(listener)
        }
        other => other,
    }
}

fn resolve(host: &str, port: u16) -> Result<SocketAddr, BindError> {
    let host_for_parse = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = host_for_parse.parse::<std::net::IpAddr>() {
        return Ok(SocketAddr::new(ip, port));
    }
    (host, port)
        .to_socket_addrs()
        .and_then(|mut addrs| {
            addrs
                .next()
                .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no address"))
        })
        .map_err(|source| BindError::Resolve {
            host: host.to_string(),
            source,
        })
}

fn listen(addr: SocketAddr) -> Result<TcpListener, BindError> {
    let wrap = |source| BindError::Listen { addr, source };
    let socket =
        Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP)).map_err(wrap)?;
    socket.set_reuse_address(true).map_err(wrap)?;
    socket.set_reuse_port(true).map_err(wrap)?;
    socket.bind(&addr.into()).map_err(wrap)?;
    socket.listen(BACKLOG).map_err(wrap)?;
    Ok(socket.into())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn explicit_port_in_use_is_an_error_default_port_falls_back() {
        let taken = bind("127.0.0.1", Some(0)).unwrap();
        let port = taken.local_addr().unwrap().port();
        // SO_REUSEPORT lets a second socket bind the same port only for the same user;
        // an explicit port must still fail when the holder did not set it.
        let plain = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let plain_port = plain.local_addr().unwrap().port();
        assert!(matches!(
            bind("127.0.0.1", Some(plain_port)),
            Err(BindError::Listen { .. })
        ));
        assert_ne!(port, 0);
    }

    #[test]
    fn bad_host_is_named() {
        let err = bind("no-such-host.invalid", Some(0)).unwrap_err();
        assert!(err.to_string().contains("no-such-host.invalid"));
    }
}
