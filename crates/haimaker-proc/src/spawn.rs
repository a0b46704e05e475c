//! Spawning a child with the inherited fds of the contract (listener on fd 3, control on fd 4).
// fd handoff needs raw syscalls: this module is one of the two places in the workspace that
// may use `unsafe`, each block with a SAFETY note.
#![allow(unsafe_code)]

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use nix::fcntl::{FcntlArg, fcntl};

use crate::{CONTROL_FD, ENV_CONTROL_FD, ENV_LISTEN_FD, LISTEN_FD};

/// The fds a child inherits.
#[derive(Debug, Clone, Copy)]
pub struct ChildFds<'a> {
    /// The shared listening socket (workers only).
    pub listener: Option<BorrowedFd<'a>>,
    /// The child's end of its control socketpair.
    pub control: BorrowedFd<'a>,
}

/// Spawns `cmd` so that the child finds the listener on fd 3 and its control end on fd 4,
/// and is SIGKILLed by the kernel if this thread's process goes away (PR_SET_PDEATHSIG).
///
/// PR_SET_PDEATHSIG fires when the *thread* that forked exits, so call this from a thread
/// that lives as long as the supervisor (the supervisor runs a current-thread runtime on its
/// main thread for this reason).
pub fn spawn_child(
    cmd: &mut tokio::process::Command,
    fds: ChildFds<'_>,
) -> io::Result<tokio::process::Child> {
    // Move both sources above 10 first (close-on-exec copies): `dup2(src, 3)` would be a
    // no-op that leaves CLOEXEC set if a source already were fd 3, and the two dup2 calls
    // could clobber each other's source if one were fd 4.
    let listener_high = fds.listener.map(dup_high).transpose()?;
    let control_high = dup_high(fds.control)?;
    let listener_raw = listener_high.as_ref().map(|fd| fd.as_raw_fd());
    let control_raw = control_high.as_raw_fd();
    let parent = nix::unistd::getpid();

    if listener_raw.is_some() {
        cmd.env(ENV_LISTEN_FD, LISTEN_FD.to_string());
    }
    cmd.env(ENV_CONTROL_FD, CONTROL_FD.to_string());

    // SAFETY: the closure runs in the forked child before exec, where only async-signal-safe
    // calls are allowed. It makes raw syscalls only (dup2, prctl, getppid) on integers
    // captured by value: no allocation, no locks, no Rust-level fd ownership. dup2 onto 3/4
    // clears CLOEXEC on the new fds, which is what makes them survive the exec; the high
    // copies stay CLOEXEC and vanish at exec.
    unsafe {
        cmd.pre_exec(move || {
            if let Some(src) = listener_raw
                && nix::libc::dup2(src, LISTEN_FD) < 0
            {
                return Err(io::Error::last_os_error());
            }
            if nix::libc::dup2(control_raw, CONTROL_FD) < 0 {
                return Err(io::Error::last_os_error());
            }
            if nix::libc::prctl(nix::libc::PR_SET_PDEATHSIG, nix::libc::SIGKILL) < 0 {
                return Err(io::Error::last_os_error());
            }
            // The parent may have died between fork and prctl: then nobody would ever
            // signal us, so leave now.
            if nix::libc::getppid() != parent.as_raw() {
                return Err(io::Error::other("supervisor exited during spawn"));
            }
            Ok(())
        });
    }
    let child = cmd.spawn();
    drop(listener_high);
    drop(control_high);
    child
}

fn dup_high(fd: BorrowedFd<'_>) -> io::Result<OwnedFd> {
    let raw = fcntl(fd.as_fd(), FcntlArg::F_DUPFD_CLOEXEC(10)).map_err(io::Error::from)?;
    // SAFETY: F_DUPFD_CLOEXEC returned a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(raw) })
}
