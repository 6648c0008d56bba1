//! Moving a running command's output into its log with poll(2).
//!
//! Both pipes are read on the calling thread, whichever has data first,
//! so the log keeps the order in which output arrived and no thread is
//! started per command. Output is read only as fast as the log is
//! written, so a command that prints faster than the disk takes waits
//! on a full pipe instead of filling memory.

use std::io::{self, Read};
use std::os::fd::AsRawFd;
use std::process::{Child, ChildStderr, ChildStdout};
use std::time::{Duration, Instant, SystemTime};

use quire_proto::LogStream;

use super::kill;
use super::log::CommandLog;

/// The size of one read from a command's pipe.
const CHUNK: usize = 64 * 1024;

/// How long output is still read after the command exited or was
/// killed. A background process it started can keep a pipe open
/// forever, and the job must not hang on it.
const DRAIN_AFTER_EXIT: Duration = Duration::from_secs(2);

/// How often a quiet command is checked for having exited.
const EXIT_POLL: Duration = Duration::from_millis(100);

/// The limit that ended a command early.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    /// The command's own `:timeout`.
    Command,
    /// The job's `--job-timeout`.
    Job,
}

/// Reads both pipes into `log` until they close. Returns which
/// deadline, if any, killed the command.
///
/// Once the command has exited or been killed, output is read for at
/// most [`DRAIN_AFTER_EXIT`] more.
pub fn pump(
    child: &mut Child,
    stdout: ChildStdout,
    stderr: ChildStderr,
    log: &mut CommandLog<'_>,
    deadline: Option<(Instant, Expiry)>,
) -> io::Result<Option<Expiry>> {
    let mut pipes = [
        Pipe::new(stdout, LogStream::Stdout)?,
        Pipe::new(stderr, LogStream::Stderr)?,
    ];
    let mut buf = vec![0; CHUNK];
    let mut killed: Option<Expiry> = None;
    let mut stop_at: Option<Instant> = None;

    while pipes.iter().any(|p| p.open) {
        let now = Instant::now();
        if stop_at.is_some_and(|stop| now >= stop) {
            break;
        }
        let mut wake = now + EXIT_POLL;
        if let (None, Some((at, _))) = (killed, deadline) {
            wake = wake.min(at);
        }
        if let Some(stop) = stop_at {
            wake = wake.min(stop);
        }

        let mut fds = pipes.each_ref().map(|p| libc::pollfd {
            fd: if p.open { p.fd } else { -1 },
            events: libc::POLLIN,
            revents: 0,
        });
        let timeout = wake.saturating_duration_since(now).as_millis();
        // SAFETY: `fds` is a valid array of two pollfd structs for the
        // duration of the call, and its length is passed with it.
        let ready = unsafe {
            libc::poll(
                fds.as_mut_ptr(),
                2,
                timeout.min(i32::MAX as u128) as i32,
            )
        };
        if ready < 0 {
            let error = io::Error::last_os_error();
            if error.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(error);
        }

        if ready == 0 {
            let now = Instant::now();
            match (killed, deadline) {
                (None, Some((at, expiry))) if now >= at => {
                    kill::kill_tree(child.id());
                    killed = Some(expiry);
                    stop_at = Some(now + DRAIN_AFTER_EXIT);
                }
                _ if stop_at.is_none() => {
                    if let Ok(Some(_)) = child.try_wait() {
                        stop_at = Some(now + DRAIN_AFTER_EXIT);
                    }
                }
                _ => {}
            }
            continue;
        }

        for (pipe, fd) in pipes.iter_mut().zip(fds) {
            if pipe.open && fd.revents != 0 {
                pipe.read_into(&mut buf, log)?;
            }
        }
        // Writing after each read keeps the file current for anyone
        // reading it while the command runs.
        log.flush()?;
    }
    if killed.is_none() {
        killed = wait_within(child, deadline)?;
    }
    Ok(killed)
}

/// Waits for a command whose pipes are closed but which may still run,
/// killing it at the deadline. Without a deadline the caller's blocking
/// wait is enough.
fn wait_within(
    child: &mut Child,
    deadline: Option<(Instant, Expiry)>,
) -> io::Result<Option<Expiry>> {
    let Some((at, expiry)) = deadline else {
        return Ok(None);
    };
    let mut pause = Duration::from_micros(200);
    while child.try_wait()?.is_none() {
        let now = Instant::now();
        if now >= at {
            kill::kill_tree(child.id());
            return Ok(Some(expiry));
        }
        std::thread::sleep(pause.min(at - now));
        pause = (pause * 2).min(Duration::from_millis(20));
    }
    Ok(None)
}

struct Pipe {
    reader: Box<dyn Read>,
    fd: i32,
    stream: LogStream,
    open: bool,
}

impl Pipe {
    fn new(
        reader: impl Read + AsRawFd + 'static,
        stream: LogStream,
    ) -> io::Result<Self> {
        let fd = reader.as_raw_fd();
        set_nonblocking(fd)?;
        Ok(Self {
            reader: Box::new(reader),
            fd,
            stream,
            open: true,
        })
    }

    /// Reads what is available; a closed pipe ends its stream.
    fn read_into(
        &mut self,
        buf: &mut [u8],
        log: &mut CommandLog<'_>,
    ) -> io::Result<()> {
        match self.reader.read(buf) {
            Ok(0) => {
                self.open = false;
                log.finish_stream(self.stream)
            }
            Ok(n) => log.push(self.stream, SystemTime::now(), &buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                ) =>
            {
                Ok(())
            }
            // A read error ends the stream like end of file would.
            Err(_) => {
                self.open = false;
                log.finish_stream(self.stream)
            }
        }
    }
}

fn set_nonblocking(fd: i32) -> io::Result<()> {
    // SAFETY: fcntl on a file descriptor this process owns, with flag
    // arguments only; no memory is passed.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if flags < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: as above.
    let rc =
        unsafe { libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
