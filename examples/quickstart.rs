//! The README's first quickstart, as it is written there: import a busybox image made by
//! `./scripts/busybox-image.sh` (no registry needed), run a command to completion and
//! collect its output, start a named container and stop and remove it.
//!
//! ```sh
//! ./scripts/busybox-image.sh /tmp/busybox.tar
//! cargo run --example quickstart -- /tmp/busybox.tar     # as root
//! ```
//!
//! A second argument names the engine root (default `/tmp/cargohold-quickstart`).
use cargohold::{Engine, Reference};
use std::fs::File;
use std::time::Duration;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    cargohold::init(); // first thing in main: lets detached containers' monitors start
    let mut args = std::env::args().skip(1);
    let tarball = args.next().unwrap_or_else(|| "/tmp/busybox.tar".into());
    let root = args
        .next()
        .unwrap_or_else(|| "/tmp/cargohold-quickstart".into());

    let engine = Engine::open(root)?;
    // The image: a rootfs tarball imported as `docker import` does. With a registry,
    // `engine.pull("busybox:latest")?` gets one instead.
    let reference: Reference = "localhost/busybox:latest".parse()?;
    let image =
        engine
            .images()
            .import_tar(File::open(&tarball)?, &Default::default(), &reference)?;

    // Run to completion, like std::process::Command::output.
    let out = engine
        .container(&image)
        .args(["sh", "-c", "echo hello from $HOSTNAME"])
        .memory_limit(64 << 20)
        .auto_remove(true)
        .output()?;
    print!("{}", String::from_utf8_lossy(&out.stdout));
    assert!(out.status.success());

    // A live container, like std::process::Child; then its persisted record.
    let mut web = engine
        .container(&image)
        .name("quickstart-web")
        .args(["sleep", "60"])
        .spawn()?;
    let status = web.stop(Duration::from_secs(2))?; // SIGTERM, SIGKILL after 2 s
    println!("quickstart-web stopped: {status}");
    engine.containers().get("quickstart-web")?.remove(false)?;
    Ok(())
}
