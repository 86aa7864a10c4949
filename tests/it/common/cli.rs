//! The runtime example (`examples/runtime.rs`) as a test drives it: a state root of its own.

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A state root of its own and the CLI invoked with `--root` on it.
pub struct RuntimeCli {
    pub root: tempfile::TempDir,
}

impl RuntimeCli {
    /// A fresh state root whose name starts with `prefix`.
    pub fn new(prefix: &str) -> RuntimeCli {
        RuntimeCli {
            root: tempfile::Builder::new().prefix(prefix).tempdir().unwrap(),
        }
    }

    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(super::example_bin("runtime"));
        c.arg("--root").arg(self.root.path()).args(args);
        c.stdin(Stdio::null());
        c
    }

    /// Runs to completion. Stdout and stderr go to files, not pipes: a created container's
    /// init inherits them (as containerd wants) and would keep a pipe open.
    pub fn out(&self, args: &[&str]) -> Output {
        super::output_via_files(&mut self.cmd(args))
    }

    /// Runs and asserts success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let o = self.out(args);
        assert!(
            o.status.success(),
            "runtime {args:?} failed ({:?}): {}",
            o.status,
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stdout).unwrap()
    }

    /// Runs and asserts failure with exit code 1; returns stderr.
    pub fn fails(&self, args: &[&str]) -> String {
        let o = self.out(args);
        assert_eq!(o.status.code(), Some(1), "runtime {args:?}: {o:?}");
        String::from_utf8(o.stderr).unwrap()
    }

    pub fn state(&self, id: &str) -> serde_json::Value {
        serde_json::from_str(&self.ok(&["state", id])).unwrap()
    }

    /// Polls `state` until the status is `want` (the container may not exist yet: a `run`
    /// started in the background is still creating it).
    pub fn wait_status(&self, id: &str, want: &str) -> serde_json::Value {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let o = self.out(&["state", id]);
            let st: serde_json::Value = if o.status.success() {
                serde_json::from_slice(&o.stdout).unwrap()
            } else {
                serde_json::Value::Null
            };
            if st["status"] == want || Instant::now() > deadline {
                return st;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}
