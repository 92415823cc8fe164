//! Child processes that cannot outlive the test binary.
//!
//! Servers are started with `PR_SET_PDEATHSIG`, so the kernel kills them when the thread that
//! spawned them exits, even if the test binary panics, aborts or is killed. The signal is
//! tied to the spawning *thread*, so every spawn happens on one thread that lives as long as
//! the process.

use std::{
    fs::File,
    io,
    os::unix::process::CommandExt,
    path::Path,
    process::{Child, Command, Stdio},
    sync::{Mutex, OnceLock, mpsc},
};

type SpawnRequest = (Command, i32, mpsc::Sender<io::Result<Child>>);

fn spawner() -> &'static Mutex<mpsc::Sender<SpawnRequest>> {
    static SPAWNER: OnceLock<Mutex<mpsc::Sender<SpawnRequest>>> = OnceLock::new();
    SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<SpawnRequest>();
        std::thread::Builder::new()
            .name("child-spawner".into())
            .spawn(move || {
                for (mut command, signal, reply) in rx {
                    bind_to_parent(&mut command, signal);
                    let _ = reply.send(command.spawn());
                }
                // The sender lives in a static, so this loop never ends and the thread never
                // exits: exiting would fire every child's death signal.
            })
            .expect("starting the spawner thread");
        Mutex::new(tx)
    })
}

#[allow(unsafe_code)]
fn bind_to_parent(command: &mut Command, signal: i32) {
    let parent = std::process::id() as i32;
    // SAFETY: runs between fork and exec and only makes async-signal-safe syscalls.
    unsafe {
        command.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, signal as libc::c_ulong) != 0 {
                return Err(io::Error::last_os_error());
            }
            // The parent may have died before prctl took effect.
            if libc::getppid() != parent {
                libc::_exit(1);
            }
            Ok(())
        });
    }
}

/// A server process, killed with `SIGKILL` on drop.
#[derive(Debug)]
pub struct Server {
    pub name: String,
    child: Child,
}

impl Server {
    /// Spawns `command` with its output in `log`. `death_signal` is what it gets when the test
    /// binary dies (PostgreSQL wants `SIGQUIT`, which stops its worker processes too).
    pub fn spawn(
        name: &str,
        mut command: Command,
        log: &Path,
        death_signal: i32,
    ) -> io::Result<Self> {
        let out = File::create(log)?;
        command
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out);
        let (tx, rx) = mpsc::channel();
        spawner()
            .lock()
            .expect("spawner lock")
            .send((command, death_signal, tx))
            .expect("the spawner thread is alive");
        let child = rx.recv().expect("the spawner thread replies")?;
        Ok(Self {
            name: name.to_owned(),
            child,
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends `signal` and waits for the process to exit.
    pub fn stop(&mut self, signal: i32) {
        #[allow(unsafe_code)]
        // SAFETY: plain kill(2) on a child we have not yet reaped, so the pid is still ours.
        unsafe {
            libc::kill(self.child.id() as i32, signal);
        }
        let _ = self.child.wait();
    }

    /// Polls `probe` until it succeeds (true), the process exits or `timeout` passes (false).
    pub async fn wait_ready<F, Fut>(&mut self, timeout: std::time::Duration, mut probe: F) -> bool
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let deadline = tokio::time::Instant::now() + timeout;
        while tokio::time::Instant::now() < deadline {
            if self.exited() {
                return false;
            }
            if probe().await {
                return true;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        false
    }

    /// Whether the process has exited.
    pub fn exited(&mut self) -> bool {
        !matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if !self.exited() {
            self.stop(libc::SIGKILL);
        }
    }
}

pub fn running_as_root() -> bool {
    #[allow(unsafe_code)]
    // SAFETY: geteuid(2) cannot fail and touches no memory.
    unsafe {
        libc::geteuid() == 0
    }
}

/// The uid and gid of `user`, from `id(1)`.
pub fn user_ids(user: &str) -> io::Result<(u32, u32)> {
    let id = |flag: &str| -> io::Result<u32> {
        let out = Command::new("id").arg(flag).arg(user).output()?;
        if !out.status.success() {
            return Err(io::Error::other(format!(
                "user {user} does not exist; `scripts/lib/tools.sh install` creates it"
            )));
        }
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .map_err(io::Error::other)
    };
    Ok((id("-u")?, id("-g")?))
}
