//! Test harness: start the gateway, fake the upstream, talk HTTP, wait on conditions.

pub mod aws;
pub mod client;
pub mod gateway;
pub mod mock;
pub mod pg;
pub mod pgproxy;
pub mod python;
pub mod redis;
pub mod wait;
pub mod webhook;

pub use client::{Resp, get, post, post_stream, request};
pub use gateway::{Gateway, GatewayBuilder, haimaker_bin};
pub use mock::{MockUpstream, Reply, SseEnd, SseStep};
pub use redis::TestRedis;
pub use wait::wait_until;
pub use webhook::Webhook;

/// Whether a process is gone: no such pid, or a zombie nobody reaped yet whose other threads
/// have exited too (a killed process's main thread turns zombie before its other threads are
/// gone, and its fds are released only with the last thread).
pub fn process_gone(pid: u32) -> bool {
    let zombie = match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => return true,
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state == "Z" || state == "X"),
    };
    let threads = std::fs::read_dir(format!("/proc/{pid}/task")).map_or(0, Iterator::count);
    zombie && threads <= 1
}

/// Whether nothing accepts connections on `addr`.
pub fn refuses(addr: std::net::SocketAddr) -> bool {
    matches!(
        std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_secs(2)),
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused
    )
}

/// How many listening TCP sockets (distinct inodes) are bound to `port`, from /proc/net/tcp{,6}.
pub fn listening_sockets(port: u16) -> usize {
    let mut inodes = std::collections::HashSet::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (Some(local), Some(state), Some(inode)) =
                (fields.get(1), fields.get(3), fields.get(9))
            else {
                continue;
            };
            let local_port = local
                .rsplit_once(':')
                .and_then(|(_, p)| u16::from_str_radix(p, 16).ok());
            if *state == "0A" && local_port == Some(port) {
                inodes.insert(inode.to_string());
            }
        }
    }
    inodes.len()
}
