//! Taking ownership of the fds a child inherits from the supervisor (fd 3 and 4).
// fd handoff needs raw syscalls: this module is one of the two places in the workspace that
// may use `unsafe`, each block with a SAFETY note.
#![allow(unsafe_code)]

use std::io;
use std::net::TcpListener;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};

use nix::fcntl::{FcntlArg, fcntl};
use nix::sys::socket::{getsockopt, sockopt};

use crate::{CONTROL_FD, LISTEN_FD};

static LISTENER_TAKEN: AtomicBool = AtomicBool::new(false);
static CONTROL_TAKEN: AtomicBool = AtomicBool::new(false);

/// The listening socket inherited as fd 3, set non-blocking. Fails when fd 3 is not an
/// open, listening socket (a child started by hand, not by the supervisor), or when called
/// twice.
pub fn take_inherited_listener() -> io::Result<TcpListener> {
    let fd = take(LISTEN_FD, &LISTENER_TAKEN)?;
    let listening = getsockopt(&fd, sockopt::AcceptConn).map_err(|e| {
        io::Error::other(format!(
            "fd {LISTEN_FD} is not a socket ({e}); workers are started by the `haimaker` supervisor"
        ))
    })?;
    if !listening {
        return Err(io::Error::other(format!(
            "fd {LISTEN_FD} is a socket that is not listening"
        )));
    }
    let listener = TcpListener::from(fd);
    listener.set_nonblocking(true)?;
    Ok(listener)
}

/// The child's end of its control socketpair, inherited as fd 4.
pub fn take_inherited_control() -> io::Result<std::os::unix::net::UnixStream> {
    let fd = take(CONTROL_FD, &CONTROL_TAKEN)?;
    let stream = std::os::unix::net::UnixStream::from(fd);
    stream.set_nonblocking(true)?;
    Ok(stream)
}

fn take(fd: RawFd, taken: &AtomicBool) -> io::Result<OwnedFd> {
    if taken.swap(true, Ordering::SeqCst) {
        return Err(io::Error::other(format!("fd {fd} was already taken")));
    }
    // SAFETY: `fcntl(F_GETFD)` only reads the descriptor flags; it is valid on any integer.
    let borrowed = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
    let flags = fcntl(borrowed, FcntlArg::F_GETFD)
        .map_err(|e| io::Error::other(format!("fd {fd} is not open ({e})")))?;
    // Mark it close-on-exec: nothing this process execs should inherit it.
    let _ = fcntl(
        borrowed,
        FcntlArg::F_SETFD(
            nix::fcntl::FdFlag::from_bits_truncate(flags) | nix::fcntl::FdFlag::FD_CLOEXEC,
        ),
    );
    // SAFETY: the fd is open (checked above), and the `taken` flag guarantees this process
    // creates at most one owner for it. The supervisor's spawn contract (spawn.rs) says fds 3
    // and 4 belong to the child and nothing else in the process opened them: they are below
    // the first fd the runtime allocates, and are claimed before any other fd is opened.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}
