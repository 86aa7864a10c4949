//! The hooks the runtime itself runs (prestart, createRuntime, poststart, poststop): a
//! failure of the first two fails the create, of the last two is a warning.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use oci_spec::runtime::Hook;

use crate::{Error, Result};

/// Runs each hook with the state JSON on its stdin, in order; the first failure stops the
/// list and is returned.
pub(crate) fn run_all(kind: &'static str, hooks: &[Hook], state: &[u8]) -> Result<()> {
    for hook in hooks {
        run(kind, hook, state)?;
    }
    Ok(())
}

/// Runs every hook with the state JSON on its stdin, in order, whatever fails: the spec's
/// rule for poststart and poststop hooks ("log a warning and continue"). Each failure goes
/// to `warn`.
pub(crate) fn run_all_warn(
    kind: &'static str,
    hooks: &[Hook],
    state: &[u8],
    warn: &dyn Fn(&Error),
) {
    for hook in hooks {
        if let Err(e) = run(kind, hook, state) {
            warn(&e);
        }
    }
}

fn run(kind: &'static str, hook: &Hook, state: &[u8]) -> Result<()> {
    let fail = |reason: String| Error::Hook {
        kind,
        path: hook.path().clone(),
        reason,
    };
    let mut cmd = Command::new(hook.path());
    if let Some(args) = hook.args().as_ref().filter(|a| !a.is_empty()) {
        use std::os::unix::process::CommandExt;
        cmd.arg0(&args[0]).args(&args[1..]);
    }
    cmd.env_clear();
    for kv in hook.env().iter().flatten() {
        if let Some((k, v)) = kv.split_once('=') {
            cmd.env(k, v);
        }
    }
    cmd.stdin(Stdio::piped());
    let mut child = cmd
        .spawn()
        .map_err(|e| fail(format!("cannot start it: {e}")))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A hook that does not read its stdin is not an error.
        let _ = stdin.write_all(state);
    }
    let deadline = hook
        .timeout()
        .map(|t| Instant::now() + Duration::from_secs(t.max(0) as u64));
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => return Ok(()),
            Ok(Some(status)) => return Err(fail(format!("it exited with {status}"))),
            Ok(None) => {}
            Err(e) => return Err(fail(format!("waiting for it: {e}"))),
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            let _ = child.kill();
            let _ = child.wait();
            return Err(fail(format!(
                "timed out after {}s",
                hook.timeout().unwrap_or(0)
            )));
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}
