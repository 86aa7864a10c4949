//! A private containerd with the CRI plugin and the runtime example as the runtime handler
//! `cargohold` (and runc's as `runc`), driven over the CRI gRPC API as the kubelet does.
//!
//! Everything lives under one temp dir: containerd's root and state, its socket, the shims'
//! and runtimes' state roots, the pods' logs and the CNI config. The containerd config is the
//! README's snippet (section "Running under containerd and Kubernetes"), taken from README.md
//! as it is, with the binary path and state root replaced and the private settings (paths,
//! sandbox image, CNI) added around it. Dropping a [`Containerd`] removes every pod, stops
//! containerd and its shims (by pid), unmounts what is left under the dir and removes the
//! pods' parent cgroups, even when a test failed halfway.

#![allow(dead_code)] // shared with benches/criloop.rs, which uses a part

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hyper_util::rt::TokioIo;
use k8s_cri::v1::image_service_client::ImageServiceClient;
use k8s_cri::v1::runtime_service_client::RuntimeServiceClient;
use k8s_cri::v1::*;
use sha2::Digest as _;
use tonic::transport::{Channel, Endpoint, Uri};

/// The pause image: busybox sleeping, as the sandbox image (no registry is reachable).
pub const PAUSE_IMAGE: &str = "localhost/cargohold-pause:1";
/// The containers' image: busybox with `sh`, `httpd` and a page in /www.
pub const BUSYBOX_IMAGE: &str = "localhost/cargohold-busybox:1";
/// What /www/index.html of [`BUSYBOX_IMAGE`] holds.
pub const PAGE: &str = "hello from a cargohold pod\n";
/// The README's path for the runtime binary and its state root, replaced by the test's own.
const README_BINARY: &str = "/usr/local/bin/cargohold-runtime";
const README_ROOT: &str = "/run/containerd/cargohold";
/// Every CRI call gives up after this.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// How the private containerd is set up.
#[derive(Debug, Default, Clone)]
pub struct Options {
    /// Run containerd in a network namespace of its own (made with `unshare -n`), with a CNI
    /// bridge conflist whose bridge lives there: pods get addresses from `subnet`.
    pub cni_subnet: Option<String>,
}

/// A running private containerd and CRI clients connected to it.
pub struct Containerd {
    pub dir: tempfile::TempDir,
    pub sock: PathBuf,
    /// The runtime example's state root for the `k8s.io` namespace (the shim appends it).
    pub runtime_root: PathBuf,
    /// The cgroup parent under which the test's pods go (`/<unique>`).
    pub cgroup_parent: String,
    child: Option<Child>,
    rt: tokio::runtime::Runtime,
    pub runtime: RuntimeServiceClient<Channel>,
    pub images: ImageServiceClient<Channel>,
}

/// A unique name for this process and call.
pub fn unique(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// The runtime example: `CARGOHOLD_RUNTIME_BIN` if set (the benchmark's release build), else
/// next to this binary's profile dir (`target/<profile>/examples/`), built with cargo if
/// missing.
pub fn runtime_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("CARGOHOLD_RUNTIME_BIN") {
        return PathBuf::from(bin);
    }
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(Path::parent).unwrap().to_path_buf();
    let bin = profile_dir.join("examples").join("runtime");
    if !bin.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let st = Command::new(cargo)
            .args(["build", "--example", "runtime"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("running cargo build --example runtime");
        assert!(st.success(), "cargo build --example runtime failed");
    }
    assert!(bin.exists(), "{} missing", bin.display());
    bin
}

/// The README's containerd snippet: the first ```toml block of its section "Running under
/// containerd and Kubernetes".
pub fn readme_snippet() -> String {
    let readme = fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("reading README.md");
    let sec = readme
        .split("\n## Running under containerd and Kubernetes\n")
        .nth(1)
        .expect("README.md has the section \"Running under containerd and Kubernetes\"");
    let block = sec
        .split("```toml\n")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("the section has a ```toml block");
    block.to_owned()
}

/// Inserts `lines` after the line `header` of `toml` (which must be there).
fn insert_after(toml: &str, header: &str, lines: &str) -> String {
    let at = toml
        .find(&format!("{header}\n"))
        .unwrap_or_else(|| panic!("the README snippet lost the line {header}"));
    let at = at + header.len() + 1;
    format!("{}{lines}{}", &toml[..at], &toml[at..])
}

/// The whole config: the README snippet with this test's binary and paths.
pub fn config(dir: &Path, binary: &Path) -> String {
    let snippet = readme_snippet();
    assert!(snippet.contains(README_BINARY) && snippet.contains(README_ROOT));
    let mut toml = snippet
        .replace(README_BINARY, &binary.display().to_string())
        .replace(README_ROOT, &dir.join("runtime-root").display().to_string());
    let d = dir.display();
    // Top-level keys go before the first table.
    toml = toml.replacen(
        "\n[",
        &format!(
            "root = \"{d}/root\"\nstate = \"{d}/state\"\n\
             disabled_plugins = [\"io.containerd.snapshotter.v1.aufs\", \
             \"io.containerd.snapshotter.v1.btrfs\", \"io.containerd.snapshotter.v1.zfs\", \
             \"io.containerd.snapshotter.v1.devmapper\", \"io.containerd.internal.v1.tracing\", \
             \"io.containerd.tracing.processor.v1.otlp\"]\n\n["
        ),
        1,
    );
    toml = insert_after(
        &toml,
        "[plugins.\"io.containerd.grpc.v1.cri\"]",
        &format!(
            "  sandbox_image = \"{PAUSE_IMAGE}\"\n  stream_server_address = \"127.0.0.1\"\n  \
             stream_server_port = \"0\"\n  netns_mounts_under_state_dir = true\n  \
             disable_apparmor = true\n"
        ),
    );
    toml.push_str(&format!(
        "\n[plugins.\"io.containerd.grpc.v1.cri\".cni]\n  bin_dir = \"/usr/lib/cni\"\n  \
         conf_dir = \"{d}/cni\"\n\
         \n[plugins.\"io.containerd.internal.v1.opt\"]\n  path = \"{d}/opt\"\n\
         \n[grpc]\n  address = \"{d}/containerd.sock\"\n\
         \n[ttrpc]\n  address = \"{d}/containerd.sock.ttrpc\"\n\
         \n[debug]\n  address = \"\"\n"
    ));
    // runc's handler (the README keeps it as the default) with its state under the dir too.
    toml.push_str(&format!(
        "\n[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc.options]\n  \
         Root = \"{d}/runc-root\"\n"
    ));
    toml
}

/// A CNI conflist: a bridge with host-local addresses from `subnet`, no masquerading (the
/// bridge lives in containerd's own network namespace, with no way out).
fn cni_conflist(subnet: &str) -> String {
    serde_json::json!({
        "cniVersion": "0.4.0",
        "name": "cargohold-cri",
        "plugins": [{
            "type": "bridge",
            "bridge": "chcri0",
            "isGateway": true,
            "ipMasq": false,
            "ipam": {
                "type": "host-local",
                "ranges": [[{"subnet": subnet}]],
                "routes": [{"dst": subnet}]
            }
        }]
    })
    .to_string()
}

impl Containerd {
    /// Writes the config, starts containerd (in a new network namespace with a CNI subnet),
    /// waits for its socket, connects the CRI clients and imports the test images.
    pub fn start(opts: &Options) -> Containerd {
        let dir = tempfile::Builder::new()
            .prefix("cargohold-cri.")
            .tempdir_in("/tmp")
            .unwrap();
        let d = dir.path();
        fs::create_dir_all(d.join("cni")).unwrap();
        let binary = runtime_bin();
        fs::write(d.join("config.toml"), config(d, &binary)).unwrap();
        if let Some(subnet) = &opts.cni_subnet {
            fs::write(d.join("cni/10-cargohold.conflist"), cni_conflist(subnet)).unwrap();
        }
        let log = fs::File::create(d.join("containerd.log")).unwrap();
        let mut cmd = if opts.cni_subnet.is_some() {
            let mut c = Command::new("unshare");
            c.args(["-n", "containerd"]);
            c
        } else {
            Command::new("containerd")
        };
        cmd.arg("--config")
            .arg(d.join("config.toml"))
            .env("CARGOHOLD_RUNTIME_ARGV_LOG", d.join("argv.log"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        // Killed if containerd does not come up (the panic below); handed to the
        // `Containerd` guard once it does.
        let mut child = ChildGuard(Some(cmd.spawn().expect("starting containerd")));
        let sock = d.join("containerd.sock");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let name = dir
            .path()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .replace('.', "-");
        let deadline = Instant::now() + Duration::from_secs(20);
        let channel = loop {
            let connected = sock
                .exists()
                .then(|| rt.block_on(connect(&sock)))
                .transpose();
            match connected {
                Ok(Some(c)) => break c,
                Ok(None) | Err(_) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50))
                }
                other => panic!(
                    "containerd did not come up ({other:?}): {}",
                    fs::read_to_string(d.join("containerd.log")).unwrap_or_default()
                ),
            }
        };
        let mut c = Containerd {
            sock,
            runtime_root: d.join("runtime-root/k8s.io"),
            cgroup_parent: format!("/{name}"),
            child: child.0.take(),
            runtime: RuntimeServiceClient::new(channel.clone()),
            images: ImageServiceClient::new(channel),
            rt,
            dir,
        };
        // The CRI plugin answers once it has loaded.
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let mut r = c.runtime.clone();
            let st = c.rt.block_on(async {
                tokio::time::timeout(
                    Duration::from_secs(5),
                    r.status(StatusRequest { verbose: false }),
                )
                .await
            });
            match st {
                Ok(Ok(_)) => break,
                _ if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(100)),
                other => panic!("CRI status: {other:?}\n{}", c.log()),
            }
        }
        c.import_images();
        c
    }

    /// containerd's log so far (for failure messages).
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("containerd.log")).unwrap_or_default()
    }

    /// The runtime example's invocations so far, one argv per line.
    pub fn argv_log(&self) -> String {
        fs::read_to_string(self.dir.path().join("argv.log")).unwrap_or_default()
    }

    /// containerd's pid (its network namespace is `/proc/PID/ns/net`).
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(Child::id).unwrap_or(0)
    }

    /// Runs a CRI call on the client runtime, with a timeout.
    pub fn call<F, T>(&self, what: &str, f: F) -> T
    where
        F: std::future::Future<Output = Result<tonic::Response<T>, tonic::Status>>,
    {
        match self
            .rt
            .block_on(async { tokio::time::timeout(CALL_TIMEOUT, f).await })
        {
            Ok(Ok(r)) => r.into_inner(),
            Ok(Err(status)) => panic!(
                "{what}: {status}\n--- runtime argv:\n{}\n--- containerd log (tail):\n{}",
                self.argv_log(),
                tail(&self.log(), 40)
            ),
            Err(_) => panic!("{what}: no answer in {CALL_TIMEOUT:?}"),
        }
    }

    /// `ctr -n k8s.io images import` of the test images (a docker-archive built here).
    fn import_images(&mut self) {
        let tar = self.dir.path().join("images.tar");
        fs::write(&tar, images_archive()).unwrap();
        let out = Command::new("ctr")
            .arg("-a")
            .arg(&self.sock)
            .args(["-n", "k8s.io", "images", "import"])
            .arg(&tar)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "ctr images import: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        // The CRI plugin sees them through containerd's events: wait until it does.
        for image in [PAUSE_IMAGE, BUSYBOX_IMAGE] {
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                let mut c = self.images.clone();
                let st = self.call("ImageStatus", async move {
                    c.image_status(ImageStatusRequest {
                        image: Some(image_spec(image)),
                        verbose: false,
                    })
                    .await
                });
                if st.image.is_some() {
                    break;
                }
                assert!(Instant::now() < deadline, "CRI does not see {image}");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }

    /// A pod config: host network (`cni` false) or the CNI bridge, its own log dir and a
    /// cgroup parent under [`Containerd::cgroup_parent`] as the kubelet gives.
    pub fn pod_config(&self, name: &str, cni: bool) -> PodSandboxConfig {
        let uid = unique("uid");
        let logs = self.dir.path().join("pods").join(name);
        fs::create_dir_all(&logs).unwrap();
        let network = if cni {
            NamespaceMode::Pod
        } else {
            NamespaceMode::Node
        };
        PodSandboxConfig {
            metadata: Some(PodSandboxMetadata {
                name: name.into(),
                uid: uid.clone(),
                namespace: "default".into(),
                attempt: 0,
            }),
            hostname: if cni { name.into() } else { String::new() },
            log_directory: logs.display().to_string(),
            linux: Some(LinuxPodSandboxConfig {
                cgroup_parent: format!("{}/pod{uid}", self.cgroup_parent),
                security_context: Some(LinuxSandboxSecurityContext {
                    namespace_options: Some(NamespaceOption {
                        network: network as i32,
                        pid: NamespaceMode::Container as i32,
                        ipc: NamespaceMode::Pod as i32,
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    /// RunPodSandbox with `handler`; returns the pod id.
    pub fn run_pod(&self, config: &PodSandboxConfig, handler: &str) -> String {
        let mut c = self.runtime.clone();
        let req = RunPodSandboxRequest {
            config: Some(config.clone()),
            runtime_handler: handler.into(),
        };
        self.call("RunPodSandbox", async move { c.run_pod_sandbox(req).await })
            .pod_sandbox_id
    }

    /// CreateContainer in `pod`; returns the container id.
    pub fn create_container(
        &self,
        pod: &str,
        pod_config: &PodSandboxConfig,
        config: ContainerConfig,
    ) -> String {
        let mut c = self.runtime.clone();
        let req = CreateContainerRequest {
            pod_sandbox_id: pod.into(),
            config: Some(config),
            sandbox_config: Some(pod_config.clone()),
        };
        self.call(
            "CreateContainer",
            async move { c.create_container(req).await },
        )
        .container_id
    }

    /// StartContainer.
    pub fn start_container(&self, id: &str) {
        let mut c = self.runtime.clone();
        let req = StartContainerRequest {
            container_id: id.into(),
        };
        self.call(
            "StartContainer",
            async move { c.start_container(req).await },
        );
    }

    /// ExecSync with a timeout of 10 s.
    pub fn exec_sync(&self, id: &str, cmd: &[&str]) -> ExecSyncResponse {
        let mut c = self.runtime.clone();
        let req = ExecSyncRequest {
            container_id: id.into(),
            cmd: cmd.iter().map(|s| s.to_string()).collect(),
            timeout: 10,
        };
        self.call("ExecSync", async move { c.exec_sync(req).await })
    }

    /// StopPodSandbox and RemovePodSandbox (which stop and remove its containers too).
    pub fn remove_pod(&self, pod: &str) {
        let mut c = self.runtime.clone();
        let id = pod.to_owned();
        self.call("StopPodSandbox", async move {
            c.stop_pod_sandbox(StopPodSandboxRequest { pod_sandbox_id: id })
                .await
        });
        let mut c = self.runtime.clone();
        let id = pod.to_owned();
        self.call("RemovePodSandbox", async move {
            c.remove_pod_sandbox(RemovePodSandboxRequest { pod_sandbox_id: id })
                .await
        });
    }

    /// Stops containerd (SIGTERM, then SIGKILL after 10 s) and every shim it started
    /// (theirs are the processes whose argv names our socket); true once all are gone.
    pub fn stop(&mut self) -> bool {
        let Some(mut child) = self.child.take() else {
            return true;
        };
        let pid = child.id() as i32;
        // SAFETY: plain kill(2) of our own child, which has not been reaped yet.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut exited = false;
        while Instant::now() < deadline {
            if child.try_wait().ok().flatten().is_some() {
                exited = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        if !exited {
            let _ = child.kill();
            let _ = child.wait();
        }
        let shims = self.shim_pids();
        for &p in &shims {
            // SAFETY: kill(2) of a shim our containerd started (its argv names our socket).
            unsafe { libc::kill(p, libc::SIGKILL) };
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while !self.shim_pids().is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        self.shim_pids().is_empty()
    }

    /// The pids of processes whose command line names this containerd's dir (its shims).
    pub fn shim_pids(&self) -> Vec<i32> {
        let needle = self.dir.path().display().to_string();
        let me = std::process::id() as i32;
        let mut out = Vec::new();
        for e in fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
                continue;
            };
            if pid == me {
                continue;
            }
            let cmdline = fs::read(e.path().join("cmdline")).unwrap_or_default();
            if String::from_utf8_lossy(&cmdline).contains(&needle) {
                out.push(pid);
            }
        }
        out
    }

    /// Mount points under this containerd's dir (overlay rootfs, shm, netns).
    pub fn mounts(&self) -> Vec<String> {
        mounts_with(&self.dir.path().display().to_string())
    }

    /// cgroup directories under the test's cgroup parent, in every hierarchy.
    pub fn cgroups(&self) -> Vec<PathBuf> {
        cgroups_under(&self.cgroup_parent)
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        // Best effort: the pods still there go the CRI way first (their shims unmount and
        // delete what they made); then whatever is left is torn down by hand.
        if self.child.is_some() {
            let mut c = self.runtime.clone();
            let pods = self.rt.block_on(async {
                tokio::time::timeout(
                    Duration::from_secs(10),
                    c.list_pod_sandbox(ListPodSandboxRequest { filter: None }),
                )
                .await
            });
            if let Ok(Ok(pods)) = pods {
                for p in pods.into_inner().items {
                    let mut c = self.runtime.clone();
                    let _ = self.rt.block_on(async {
                        tokio::time::timeout(Duration::from_secs(15), async {
                            let _ = c
                                .stop_pod_sandbox(StopPodSandboxRequest {
                                    pod_sandbox_id: p.id.clone(),
                                })
                                .await;
                            c.remove_pod_sandbox(RemovePodSandboxRequest {
                                pod_sandbox_id: p.id.clone(),
                            })
                            .await
                        })
                        .await
                    });
                }
            }
        }
        self.stop();
        // Container processes left by a killed shim: every pid in the pods' cgroups.
        for cg in self.cgroups() {
            for pid in fs::read_to_string(cg.join("cgroup.procs"))
                .unwrap_or_default()
                .lines()
                .filter_map(|l| l.parse::<i32>().ok())
            {
                // SAFETY: kill(2) of a process in a cgroup this test's containerd made.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
        let mut mounts = self.mounts();
        mounts.sort_by_key(|m| std::cmp::Reverse(m.len()));
        for m in mounts {
            if let Ok(c) = std::ffi::CString::new(m) {
                // SAFETY: umount2(2) with a valid C string; a failure leaves the mount.
                unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
            }
        }
        let mut cgs = self.cgroups();
        cgs.sort_by_key(|p| std::cmp::Reverse(p.as_os_str().len()));
        for d in cgs {
            let deadline = Instant::now() + Duration::from_secs(2);
            while fs::remove_dir(&d).is_err() && d.exists() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

/// A child process killed and reaped on drop.
struct ChildGuard(Option<Child>);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Connects a tonic channel to a unix socket.
async fn connect(sock: &Path) -> Result<Channel, tonic::transport::Error> {
    let sock = sock.to_path_buf();
    Endpoint::try_from("http://[::]:50051")
        .expect("a valid URI")
        .connect_timeout(Duration::from_secs(5))
        .connect_with_connector(tower::service_fn(move |_: Uri| {
            let sock = sock.clone();
            async move {
                Ok::<_, std::io::Error>(TokioIo::new(tokio::net::UnixStream::connect(sock).await?))
            }
        }))
        .await
}

/// A CRI image spec for `name`.
pub fn image_spec(name: &str) -> ImageSpec {
    ImageSpec {
        image: name.into(),
        ..Default::default()
    }
}

/// The last `n` lines of `s`.
pub fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Mount points (from /proc/self/mountinfo) whose path contains `needle`.
pub fn mounts_with(needle: &str) -> Vec<String> {
    fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|m| m.contains(needle))
        .map(str::to_owned)
        .collect()
}

/// cgroup directories at and under `path` in every hierarchy.
pub fn cgroups_under(path: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for h in fs::read_dir("/sys/fs/cgroup")
        .into_iter()
        .flatten()
        .flatten()
    {
        walk_dirs(&h.path().join(path.trim_start_matches('/')), &mut out);
    }
    out
}

fn walk_dirs(dir: &Path, out: &mut Vec<PathBuf>) {
    if !dir.is_dir() {
        return;
    }
    out.push(dir.to_path_buf());
    for e in fs::read_dir(dir).into_iter().flatten().flatten() {
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            walk_dirs(&e.path(), out);
        }
    }
}

/// A docker-archive (`docker save` format) with [`PAUSE_IMAGE`] and [`BUSYBOX_IMAGE`]: one
/// layer of Debian's static busybox (a link per applet), two configs.
pub fn images_archive() -> Vec<u8> {
    let busybox = fs::read("/bin/busybox").expect("/bin/busybox (busybox-static)");
    let list = Command::new("/bin/busybox")
        .arg("--list")
        .output()
        .expect("busybox --list");
    let mut b = tar::Builder::new(Vec::new());
    let header = |typ: tar::EntryType, mode: u32, size: u64| {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(typ);
        h.set_mode(mode);
        h.set_size(size);
        h.set_mtime(1_700_000_000);
        h
    };
    for d in ["bin", "etc", "tmp", "proc", "sys", "dev", "www", "root"] {
        let mut h = header(tar::EntryType::Directory, 0o755, 0);
        b.append_data(&mut h, d, std::io::empty()).unwrap();
    }
    let mut h = header(tar::EntryType::Regular, 0o755, busybox.len() as u64);
    b.append_data(&mut h, "bin/busybox", &busybox[..]).unwrap();
    for applet in String::from_utf8_lossy(&list.stdout).split_whitespace() {
        if applet == "busybox" {
            continue;
        }
        let mut h = header(tar::EntryType::Symlink, 0o777, 0);
        b.append_link(&mut h, format!("bin/{applet}"), "busybox")
            .unwrap();
    }
    for (path, data) in [
        ("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n"),
        ("etc/group", "root:x:0:\n"),
        ("www/index.html", PAGE),
    ] {
        let mut h = header(tar::EntryType::Regular, 0o644, data.len() as u64);
        b.append_data(&mut h, path, data.as_bytes()).unwrap();
    }
    let layer = b.into_inner().unwrap();
    let diff_id = format!("sha256:{}", hex::encode(sha2::Sha256::digest(&layer)));
    let image_config = |cmd: &[&str]| {
        serde_json::to_vec(&serde_json::json!({
            "architecture": "amd64", "os": "linux",
            "config": {"Cmd": cmd, "Env": ["PATH=/bin"]},
            "rootfs": {"type": "layers", "diff_ids": [diff_id]}
        }))
        .unwrap()
    };
    let pause = image_config(&["sleep", "2147483"]);
    let shell = image_config(&["sh"]);
    let manifest = serde_json::to_vec(&serde_json::json!([
        {"Config": "pause.json", "RepoTags": [PAUSE_IMAGE], "Layers": ["l0/layer.tar"]},
        {"Config": "busybox.json", "RepoTags": [BUSYBOX_IMAGE], "Layers": ["l0/layer.tar"]}
    ]))
    .unwrap();
    let mut b = tar::Builder::new(Vec::new());
    let mut add = |name: &str, data: &[u8]| {
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o644);
        h.set_size(data.len() as u64);
        b.append_data(&mut h, name, data).unwrap();
    };
    add("pause.json", &pause);
    add("busybox.json", &shell);
    add("l0/layer.tar", &layer);
    add("manifest.json", &manifest);
    b.into_inner().unwrap()
}

/// Environment for a container config.
pub fn envs(vars: &[(&str, &str)]) -> Vec<KeyValue> {
    vars.iter()
        .map(|(k, v)| KeyValue {
            key: k.to_string(),
            value: v.to_string(),
        })
        .collect()
}
