//! One writer per run directory: an exclusive advisory lock (`flock(2)`) on `RUN_DIR/writer.lock`, taken by every
//! command that writes into a run directory (`train`, `train --resume`, `sweep-task` and so `reproduce`'s workers,
//! `eval`), so that two of them pointed at one directory (a Slurm requeue racing a manual resume, two array tasks
//! with the same output) cannot interleave their epochs: the second is refused with an error that names the
//! directory and the process holding it. Readers (`show`, `plot`, `collect`, `sample`) never take it and never wait.
//!
//! The kernel drops the lock when its holder exits, however it exits (`kill -9` included), so a stale lock file is
//! never a problem: the file stays, only the lock on it counts. Its text (pid, host, command, start time) is for the
//! error message of the process refused. The lock is held per process: taking it again in a process that holds it
//! (the `train` command, then the trainer it calls) shares the one lock.

use anyhow::{bail, Context, Result};
use std::fs::File;
use std::io::{Read, Seek, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};

/// The lock file in a run directory.
pub const LOCK_FILE: &str = "writer.lock";

/// The process's hold on a run directory's lock; the lock is released when the last clone is dropped.
#[derive(Clone)]
pub struct RunLock {
    _held: Arc<Held>,
}

struct Held {
    dir: PathBuf,
    // Closing the file (on drop) releases the flock.
    _file: File,
}

/// The run directories this process holds, by canonical path (weak: a dropped lock leaves the list by itself).
static HELD: Mutex<Vec<(PathBuf, Weak<Held>)>> = Mutex::new(Vec::new());

impl RunLock {
    /// Takes the exclusive lock of the run directory `dir` (created if missing), without waiting: an error naming
    /// the directory and its holder when another process holds it.
    pub fn acquire(dir: &Path) -> Result<RunLock> {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating run directory {}", dir.display()))?;
        let canonical = dir
            .canonicalize()
            .with_context(|| format!("resolving {}", dir.display()))?;
        let mut held = HELD.lock().unwrap_or_else(|e| e.into_inner());
        held.retain(|(_, w)| w.strong_count() > 0);
        if let Some(h) = held
            .iter()
            .find(|(p, _)| *p == canonical)
            .and_then(|(_, w)| w.upgrade())
        {
            return Ok(RunLock { _held: h });
        }
        let path = canonical.join(LOCK_FILE);
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .with_context(|| format!("opening the lock file {}", path.display()))?;
        // SAFETY: flock on a file descriptor this function owns; it only reads the descriptor.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc != 0 {
            let err = std::io::Error::last_os_error();
            if err.raw_os_error() == Some(libc::EWOULDBLOCK) {
                let mut text = String::new();
                file.read_to_string(&mut text).ok();
                bail!(
                    "{} is being written by another process ({}); only one process may write a run directory at a \
                     time: wait for that one to end (or stop it), then run this again",
                    dir.display(),
                    describe_holder(&text)
                );
            }
            return Err(err).with_context(|| format!("locking {}", path.display()));
        }
        // Who holds the lock is for the message of a process refused; a full disk that keeps it from being written
        // must not keep this process from writing (it will say so at its first write that matters).
        let _ = file
            .set_len(0)
            .and_then(|_| file.rewind())
            .and_then(|_| file.write_all(holder_text().as_bytes()));
        let h = Arc::new(Held {
            dir: canonical.clone(),
            _file: file,
        });
        held.push((canonical, Arc::downgrade(&h)));
        Ok(RunLock { _held: h })
    }

    /// The locked directory (canonical).
    pub fn dir(&self) -> &Path {
        &self._held.dir
    }
}

/// What the lock file holds: the writer's pid, host, command line and start time, one `key value` a line.
fn holder_text() -> String {
    let args: Vec<String> = std::env::args().collect();
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    format!(
        "pid {}\nhost {}\ncommand {}\nsince {since}\n",
        std::process::id(),
        hostname(),
        args.join(" ")
    )
}

/// "pid 123 on host, `rnnlab train --resume …`" from a lock file's text (whatever of it is there).
fn describe_holder(text: &str) -> String {
    let field = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix(' '))
            .map(str::to_string)
    };
    match field("pid") {
        Some(pid) => {
            let mut s = format!("pid {pid}");
            if let Some(host) = field("host") {
                s += &format!(" on {host}");
            }
            if let Some(cmd) = field("command") {
                s += &format!(", `{cmd}`");
            }
            s
        }
        None => "a process that has not yet recorded itself".into(),
    }
}

fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most buf.len() bytes into buf.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return "unknown host".into();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lock_is_shared_within_a_process_and_released_with_its_last_holder() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("run");
        let a = RunLock::acquire(&dir).unwrap();
        let b = RunLock::acquire(&dir).unwrap();
        assert!(Arc::ptr_eq(&a._held, &b._held));
        let text = std::fs::read_to_string(dir.join(LOCK_FILE)).unwrap();
        assert!(
            text.starts_with(&format!("pid {}\n", std::process::id())),
            "{text}"
        );
        assert!(describe_holder(&text).starts_with(&format!("pid {} on ", std::process::id())));
        // Another open file description of the lock file is refused while the lock is held…
        let other = File::open(dir.join(LOCK_FILE)).unwrap();
        // SAFETY: flock on a descriptor this test owns.
        let rc = unsafe { libc::flock(other.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        assert_ne!(rc, 0, "a second writer got the lock");
        drop(a);
        // SAFETY: as above.
        let rc = unsafe { libc::flock(other.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        assert_ne!(rc, 0, "the lock went with one of two holders");
        drop(b);
        // …and granted once the last holder is gone.
        // SAFETY: as above.
        let rc = unsafe { libc::flock(other.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        assert_eq!(rc, 0, "the lock outlived its holders");
        let err = format!("{:#}", RunLock::acquire(&dir).err().unwrap());
        assert!(
            err.contains("is being written by another process") && err.contains("run"),
            "{err}"
        );
    }
}
