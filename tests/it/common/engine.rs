//! Engines in temp dirs and the busybox images they run: one parameterised fixture for
//! every test of the container layer (attached, detached, on networks, committed).

use std::fs;
use std::path::{Path, PathBuf};

use cargohold::oci_spec::image::{Config, ConfigBuilder};
use cargohold::{ContainerBuilder, Engine, Error, Image, RunningContainer};

use super::{make_rootfs, unique};

/// The page busybox's httpd serves from an image made with [`Busybox::web`].
pub const WEB_PAGE: &str = "hello from web\n";

/// Busybox's httpd in the foreground on `port`, serving the image's `/www` (see
/// [`Busybox::web`]), as a shell command.
pub fn httpd(port: u16) -> String {
    format!("busybox httpd -f -p {port} -h /www")
}

/// An engine root of its own: the temp dir (removed when dropped) and the engine on it.
pub fn temp_engine(prefix: &str) -> (tempfile::TempDir, Engine) {
    let root = tempfile::Builder::new().prefix(prefix).tempdir().unwrap();
    let engine = Engine::open(root.path()).unwrap();
    (root, engine)
}

/// What goes into a test's busybox image: the rootfs of [`make_rootfs`] plus extra files,
/// and a config with `Cmd ["/bin/sh"]` and `Env ["PATH=/bin", ...]`.
#[derive(Clone)]
pub struct Busybox {
    env: Vec<String>,
    config: fn(ConfigBuilder) -> ConfigBuilder,
    files: Vec<(PathBuf, Vec<u8>)>,
}

/// The plain busybox image (see [`Busybox`]).
pub fn busybox() -> Busybox {
    Busybox {
        env: vec!["PATH=/bin".to_owned()],
        config: |c| c,
        files: Vec::new(),
    }
}

impl Busybox {
    /// Adds `vars` (`KEY=value`) to the config's `Env`, after `PATH=/bin`.
    pub fn env(mut self, vars: &[&str]) -> Busybox {
        self.env.extend(vars.iter().map(|v| v.to_string()));
        self
    }

    /// Edits the rest of the config (cmd, entrypoint, volumes, ports).
    pub fn config(mut self, f: fn(ConfigBuilder) -> ConfigBuilder) -> Busybox {
        self.config = f;
        self
    }

    /// Adds (or replaces) the file at `path` (relative to the rootfs), making its parents.
    pub fn file(mut self, path: impl AsRef<Path>, content: impl Into<Vec<u8>>) -> Busybox {
        self.files.push((path.as_ref().to_owned(), content.into()));
        self
    }

    /// Adds a web root for [`httpd`]: [`WEB_PAGE`] at `/www/index.html` and 100 000 bytes
    /// of `x` at `/www/big`.
    pub fn web(self) -> Busybox {
        self.file("www/index.html", WEB_PAGE)
            .file("www/big", vec![b'x'; 100_000])
    }

    /// The image config.
    pub fn image_config(&self) -> Config {
        let builder = ConfigBuilder::default()
            .cmd(vec!["/bin/sh".to_owned()])
            .env(self.env.clone());
        (self.config)(builder).build().unwrap()
    }

    /// Lays the rootfs out in `dir`.
    pub fn write_rootfs(&self, dir: &Path) {
        make_rootfs(dir);
        for (path, content) in &self.files {
            let p = dir.join(path);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(p, content).unwrap();
        }
    }

    /// The rootfs in a temp dir of its own.
    pub fn rootfs(&self) -> tempfile::TempDir {
        let src = tempfile::tempdir().unwrap();
        self.write_rootfs(src.path());
        src
    }

    /// The rootfs as a tarball (`tar -C rootfs -cf busybox.tar .`, what `engine import`
    /// takes), in a temp dir of its own: the dir and the tarball's path.
    pub fn tarball(&self) -> (tempfile::TempDir, std::path::PathBuf) {
        let rootfs = self.rootfs();
        let dir = tempfile::tempdir().unwrap();
        let tarball = dir.path().join("busybox.tar");
        super::tar_create(rootfs.path(), &tarball);
        (dir, tarball)
    }

    /// Imports the image into `engine`'s store as `reference`.
    pub fn import(&self, engine: &Engine, reference: &str) -> Image {
        let src = self.rootfs();
        engine
            .images()
            .import_dir(
                src.path(),
                &self.image_config(),
                &reference.parse().unwrap(),
            )
            .unwrap()
    }

    /// An engine in a temp root named `prefix...` with this image as `busybox:<unique tag>`.
    pub fn engine(&self, prefix: &str) -> TestEngine {
        self.engine_tagged(prefix, &unique("t"))
    }

    /// As [`Busybox::engine`], with the image tagged `busybox:<tag>`.
    pub fn engine_tagged(&self, prefix: &str, tag: &str) -> TestEngine {
        let (root, engine) = temp_engine(prefix);
        let reference = format!("busybox:{tag}");
        let image = self.import(&engine, &reference);
        TestEngine {
            engine,
            image,
            reference,
            root,
        }
    }
}

/// Force-removes every container of the engine root `root`, errors ignored (for `Drop`s
/// of test fixtures): a test that fails half-way must not leave containers running over a
/// root its `TempDir` then deletes, since what the deletion takes (runtime state, layers)
/// is what their monitors need to release their mounts and cgroups.
pub fn remove_all_containers(root: &Path) {
    let Ok(engine) = Engine::open(root) else {
        return;
    };
    for c in engine.containers().list().unwrap_or_default() {
        let _ = c.remove(true);
    }
}

/// An engine in its own temp root, with a busybox image `reference`; its containers are
/// removed when it drops (see [`remove_all_containers`]).
pub struct TestEngine {
    pub engine: Engine,
    pub image: Image,
    // Read by tests/monitor.rs only, which names the image on a command line.
    #[allow(dead_code)]
    pub reference: String,
    pub root: tempfile::TempDir,
}

impl Drop for TestEngine {
    fn drop(&mut self) {
        remove_all_containers(self.root.path());
    }
}

/// Brings the container's loopback up first: the engine leaves `lo` down until the
/// network layer (issue 5) sets it up as Docker's `none` network does.
pub const LO_UP: &str = "busybox ip link set lo up; ";

impl TestEngine {
    /// A container of the image running `args`.
    pub fn cmd<S: AsRef<std::ffi::OsStr>>(
        &self,
        args: impl IntoIterator<Item = S>,
    ) -> ContainerBuilder<'_> {
        let mut b = self.engine.container(&self.image);
        b.args(args);
        b
    }

    /// A container of the image running `sh -c script`.
    pub fn sh(&self, script: &str) -> ContainerBuilder<'_> {
        self.cmd(["sh", "-c", script])
    }

    /// A container of `image` running `sh -c LO_UP script` (with `NET_ADMIN` for the `ip`
    /// command), killed when the handle drops.
    pub fn spawn_lo_up(&self, image: &Image, script: &str) -> RunningContainer {
        let mut c = self
            .engine
            .container(image)
            .args(["sh", "-c", &format!("{LO_UP}{script}")])
            .cap_add("NET_ADMIN")
            .spawn()
            .unwrap();
        c.kill_on_drop(true);
        c
    }
}

/// Asserts that a container ran to success, showing its stderr if not.
pub fn assert_success(out: &cargohold::Output) {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A container's stdout as text.
pub fn stdout(out: &cargohold::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The engine's containers directory holds no container and no name, and it lists none.
pub fn assert_no_containers(engine: &cargohold::Engine) {
    let dir = engine.root().join("containers");
    // Containers are named by their ids; dot files (`.names`, the `.live-marked` flag)
    // are the store's own.
    let left: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| !n.to_string_lossy().starts_with('.'))
        .chain(
            std::fs::read_dir(dir.join(".names"))
                .unwrap()
                .map(|e| e.unwrap().file_name()),
        )
        .collect();
    assert!(left.is_empty(), "{left:?}");
    assert!(engine.containers().list().unwrap().is_empty());
}

/// What `args` printed on stdout when exec'd in `c`.
pub fn exec_stdout(c: &RunningContainer, args: &[&str]) -> String {
    stdout(&c.exec(args).output().unwrap())
}

/// `NotReady`'s fields (condition, reason, last logs, message), or a panic.
pub fn not_ready(r: cargohold::Result<()>) -> (String, String, Vec<String>, String) {
    match r {
        Err(
            ref e @ Error::NotReady {
                ref condition,
                ref reason,
                ref last_logs,
                ..
            },
        ) => (
            condition.clone(),
            reason.clone(),
            last_logs.clone(),
            e.to_string(),
        ),
        other => panic!("expected NotReady, got {other:?}"),
    }
}
