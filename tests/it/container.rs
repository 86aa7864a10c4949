//! The container layer: attached containers from images made with `Store::import_dir` of a
//! busybox rootfs, asserted by their effects (output, exit codes, files, limits) and by
//! what is left behind (mounts, cgroups, directories).

use std::fs;
use std::io::{Read, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use cargohold::Status;
use cargohold::{Engine, Error, Stdio};

use crate::common::{self, stdout, TestEngine as Env};

/// The engine of these tests: a busybox image with `FROM_IMAGE=yes` and `MODE=image` in its
/// env, a user `app` (1234:2345, also in group `extra`), `/etc/from-image` and `/seed/hello`.
fn image() -> common::Busybox {
    common::busybox()
        .env(&["FROM_IMAGE=yes", "MODE=image"])
        .file(
            "etc/passwd",
            "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n\
             app:x:1234:2345:app:/home/app:/bin/sh\n",
        )
        .file(
            "etc/group",
            "root:x:0:\nnogroup:x:65534:\napp:x:2345:\nextra:x:3456:app\n",
        )
        .file("etc/from-image", "layer\n")
        .file("seed/hello", "seeded\n")
}

fn env_with(image: common::Busybox) -> Env {
    image.engine("cargohold-engine")
}

fn env() -> Env {
    env_with(image())
}

/// Nothing of container `id` remains: no directory, mount or cgroup.
fn assert_gone(e: &Env, id: &str) {
    common::assert_container_gone(&e.engine, id);
}

/// The containers directory holds no container and no name.
fn assert_no_containers(e: &Env) {
    common::assert_no_containers(&e.engine);
}

fn only_container(e: &Env) -> cargohold::Container {
    let mut all = e.engine.containers().list().unwrap();
    assert_eq!(all.len(), 1);
    all.remove(0)
}

#[test]
#[ignore = "requires root"]
fn output_captures_stdout_and_stderr() {
    let e = env();
    let out = e
        .sh("echo hello; echo oops >&2; exit 3")
        .auto_remove(true)
        .output()
        .unwrap();
    assert_eq!(stdout(&out), "hello\n");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "oops\n");
    assert_eq!(out.status.code(), Some(3));
    assert!(!out.status.success());
    assert_no_containers(&e);
}

#[test]
#[ignore = "requires root"]
fn exited_container_is_recorded_then_removed() {
    let e = env();
    let status = e
        .sh("exit 7")
        .name(common::unique("rec"))
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(7));
    let c = only_container(&e);
    let info = c.inspect().unwrap();
    assert_eq!(info.state.status, Status::Exited);
    assert_eq!(info.state.exit_code, 7);
    assert!(!info.state.running);
    assert_eq!(info.path, "sh");
    assert_eq!(info.graph_driver.name, "overlay2");
    let json = serde_json::to_value(&info).unwrap();
    assert_eq!(json["State"]["ExitCode"], 7);
    assert_eq!(json["Name"], format!("/{}", c.name()));
    // the overlay is unmounted once waited for, the record stays until removed
    let id = c.id().to_owned();
    assert!(common::mounts_with(&id).is_empty());
    let again = e.engine.containers().get(&id[..10]).unwrap();
    assert_eq!(again.name(), c.name());
    c.remove(false).unwrap();
    assert_gone(&e, &id);
}

#[test]
#[ignore = "requires root"]
fn env_merges_image_env_with_overrides() {
    let e = env();
    let out = e
        .cmd(["env"])
        .env("MODE", "mine")
        .env("EXTRA", "1")
        .hostname("envhost")
        .auto_remove(true)
        .output()
        .unwrap();
    let s = stdout(&out);
    let lines: Vec<&str> = s.lines().collect();
    for want in [
        "PATH=/bin",
        "FROM_IMAGE=yes",
        "MODE=mine",
        "EXTRA=1",
        "HOSTNAME=envhost",
        "HOME=/root",
    ] {
        assert!(lines.contains(&want), "{want} not in {s}");
    }
    assert!(!lines.contains(&"MODE=image"), "{s}");
}

#[test]
#[ignore = "requires root"]
fn cmd_and_entrypoint_combine_as_docker() {
    let e = env_with(image().config(|c| {
        c.entrypoint(vec!["/bin/echo".to_owned(), "ep".to_owned()])
            .cmd(vec!["image-cmd".to_owned()])
    }));
    let run = |f: &dyn Fn(&mut cargohold::ContainerBuilder<'_>)| {
        let mut b = e.engine.container(&e.image);
        b.auto_remove(true);
        f(&mut b);
        stdout(&b.output().unwrap())
    };
    // image Entrypoint + Cmd
    assert_eq!(run(&|_| {}), "ep image-cmd\n");
    // args replace Cmd, keep Entrypoint
    assert_eq!(
        run(&|b| {
            b.args(["a", "b"]);
        }),
        "ep a b\n"
    );
    // --entrypoint resets Cmd
    assert_eq!(
        run(&|b| {
            b.entrypoint(["/bin/echo"]);
        }),
        "\n"
    );
    // --entrypoint plus args
    assert_eq!(
        run(&|b| {
            b.entrypoint(["/bin/sh", "-c"]).arg("echo via-sh");
        }),
        "via-sh\n"
    );
    // --entrypoint "" and no args: no command at all
    let err = e
        .engine
        .container(&e.image)
        .entrypoint([""])
        .output()
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::InvalidContainerConfig {
                field: "command",
                ..
            }
        ),
        "{err}"
    );
    assert_no_containers(&e);
}

#[test]
#[ignore = "requires root"]
fn user_by_name_from_passwd_and_group() {
    let e = env();
    let out = e
        .sh("id -u; id -g; id -G; echo $HOME")
        .user("app")
        .auto_remove(true)
        .output()
        .unwrap();
    assert_eq!(
        stdout(&out),
        "1234\n2345\n2345 3456\n/home/app\n",
        "{:?}",
        out
    );
    let out = e
        .sh("id -u; id -g")
        .user("app:extra")
        .auto_remove(true)
        .output()
        .unwrap();
    assert_eq!(stdout(&out), "1234\n3456\n");
    let err = e.cmd(["true"]).user("ghost").output().unwrap_err();
    assert!(matches!(err, Error::UserNotFound { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("no matching entries in passwd file"),
        "{err}"
    );
    assert_no_containers(&e);
}

#[test]
#[ignore = "requires root"]
fn hostname_and_etc_files() {
    let e = env();
    let out = e
        .sh("hostname; cat /etc/hostname; cat /etc/hosts; test -s /etc/resolv.conf && echo resolv")
        .hostname("box1")
        .auto_remove(true)
        .output()
        .unwrap();
    let s = stdout(&out);
    assert!(s.starts_with("box1\nbox1\n"), "{s}");
    assert!(s.contains("127.0.0.1\tlocalhost\n"), "{s}");
    assert!(s.contains("ip6-allrouters"), "{s}");
    assert!(s.ends_with("resolv\n"), "{s}");
    // default hostname: the short id
    let mut c = e.cmd(["hostname"]).stdout(Stdio::piped()).spawn().unwrap();
    let id = c.id().to_owned();
    let mut s = String::new();
    c.take_stdout().unwrap().read_to_string(&mut s).unwrap();
    c.wait().unwrap();
    assert_eq!(s.trim(), &id[..12]);
}

/// `ContainerBuilderExt::oci_spec`: edits of the generated runtime spec apply in order,
/// after the Docker-level settings, to every container the builder makes.
#[test]
#[ignore = "requires root"]
fn oci_spec_edits_reach_the_runtime() {
    use cargohold::ext::ContainerBuilderExt as _;
    let e = env();
    let mut b = e.sh("hostname; echo $EDITED; mkdir /tmp/d 2>/dev/null || echo refused");
    b.hostname("asked")
        .oci_spec(|s| {
            s.set_hostname(Some("first".into()));
        })
        .oci_spec(|s| {
            s.set_hostname(Some(format!(
                "{}-then-second",
                s.hostname().as_ref().unwrap()
            )));
            let mut p = s.process().clone().unwrap();
            let mut env = p.env().clone().unwrap_or_default();
            env.push("EDITED=yes".into());
            p.set_env(Some(env));
            s.set_process(Some(p));
        })
        // The edits see Docker's default seccomp profile, and what they make of it is the
        // container's filter.
        .oci_spec(|s| {
            let linux = s.linux_mut().as_mut().unwrap();
            let mut profile = linux.seccomp().clone().expect("the default profile");
            // mkdir out of the allow list: the profile's default action (EPERM) refuses it
            let mut rules = profile.syscalls().clone().unwrap_or_default();
            for r in &mut rules {
                let names = r.names().iter().filter(|n| !n.starts_with("mkdir"));
                r.set_names(names.cloned().collect());
            }
            rules.retain(|r| !r.names().is_empty());
            profile.set_syscalls(Some(rules));
            linux.set_seccomp(Some(profile));
        })
        .auto_remove(true);
    for _ in 0..2 {
        let out = b.output().unwrap();
        assert_eq!(stdout(&out), "first-then-second\nyes\nrefused\n");
    }
    assert_no_containers(&e);
}

#[test]
#[ignore = "requires root"]
fn read_only_rootfs_refuses_writes() {
    let e = env();
    let out = e
        .sh("touch /x && echo wrote; touch /dev/shm/ok && echo shm")
        .read_only(true)
        .auto_remove(true)
        .output()
        .unwrap();
    assert_eq!(stdout(&out), "shm\n");
    assert!(String::from_utf8_lossy(&out.stderr).contains("Read-only file system"));
}

#[test]
#[ignore = "requires root"]
fn memory_limit_oom_is_reported() {
    let e = env();
    let out = e
        .cmd([
            "awk",
            "BEGIN { s = \"x\"; for (i = 0; i < 40; i++) s = s s; print length(s) }",
        ])
        .memory_limit(16 << 20)
        .name(common::unique("oom"))
        .output()
        .unwrap();
    assert!(out.status.oom_killed(), "{:?}", out);
    let c = only_container(&e);
    let info = c.inspect().unwrap();
    assert!(info.state.oom_killed);
    assert_eq!(info.host_config.memory, 16 << 20);
    assert_eq!(info.state.exit_code, 137);
    c.remove(false).unwrap();
}

#[test]
#[ignore = "requires root"]
fn spawn_then_stop_with_timeout() {
    let e = env();
    // ignores SIGTERM: stop must fall back to SIGKILL after the timeout
    let mut c = e
        .sh("trap '' TERM; echo ready; while true; do sleep 1; done")
        .stdout(Stdio::piped())
        .name(common::unique("stop"))
        .spawn()
        .unwrap();
    let mut buf = [0u8; 6];
    c.take_stdout().unwrap().read_exact(&mut buf).unwrap();
    assert!(c.try_wait().unwrap().is_none());
    let rec = e.engine.containers().get(c.name()).unwrap();
    assert_eq!(rec.status(), Status::Running);
    assert!(matches!(
        rec.clone().remove(false),
        Err(Error::InvalidState { .. })
    ));
    let t = Instant::now();
    let status = c.stop(Duration::from_millis(500)).unwrap();
    assert!(
        t.elapsed() >= Duration::from_millis(450),
        "{:?}",
        t.elapsed()
    );
    assert_eq!(status.signal(), Some(libc::SIGKILL));
    assert_eq!(rec.status(), Status::Exited);
    // a process that handles SIGTERM stops without the SIGKILL (a pid 1 without a
    // handler ignores SIGTERM, in Docker too)
    let mut c = e
        .sh("trap 'exit 143' TERM; echo ready; while true; do sleep 0.1; done")
        .stdout(Stdio::piped())
        .auto_remove(true)
        .spawn()
        .unwrap();
    // the trap must be set before the signal comes
    c.take_stdout().unwrap().read_exact(&mut buf).unwrap();
    let t = Instant::now();
    let status = c.stop(Duration::from_secs(10)).unwrap();
    assert!(t.elapsed() < Duration::from_secs(5));
    assert_eq!(status.code(), Some(143));
}

#[test]
#[ignore = "requires root"]
fn written_file_lands_in_upper_dir_only() {
    let e = env();
    let c = e
        .sh("echo new > /etc/new-file; echo changed > /etc/from-image; rm /bin/wc")
        .status()
        .unwrap();
    assert!(c.success());
    let rec = only_container(&e);
    let info = rec.inspect().unwrap();
    let upper = Path::new(&info.graph_driver.data["UpperDir"]);
    assert_eq!(
        fs::read_to_string(upper.join("etc/new-file")).unwrap(),
        "new\n"
    );
    assert_eq!(
        fs::read_to_string(upper.join("etc/from-image")).unwrap(),
        "changed\n"
    );
    let lower = &info.graph_driver.data["LowerDir"];
    for l in lower.split(':') {
        let l = Path::new(l);
        assert!(!l.join("etc/new-file").exists());
        assert_eq!(
            fs::read_to_string(l.join("etc/from-image")).unwrap(),
            "layer\n"
        );
        assert!(l.join("bin/wc").exists());
    }
    // the next container sees the image unchanged
    let out = e
        .cmd(["cat", "/etc/from-image"])
        .auto_remove(true)
        .output()
        .unwrap();
    assert_eq!(stdout(&out), "layer\n");
    rec.remove(false).unwrap();
}

#[test]
#[ignore = "requires root"]
fn forced_remove_leaves_nothing() {
    let e = env();
    let mut c = e
        .cmd(["sleep", "100"])
        .name(common::unique("rm"))
        .spawn()
        .unwrap();
    let id = c.id().to_owned();
    // its overlay, in its own mount namespace (none on the host: it is attached)
    let own = fs::read_to_string(format!("/proc/{}/mountinfo", c.pid())).unwrap();
    assert!(own.contains(&id), "{own}");
    assert!(common::mounts_with(&id).is_empty());
    assert!(!common::cgroups_named(&id).is_empty());
    e.engine
        .containers()
        .get(&id)
        .unwrap()
        .remove(true)
        .unwrap();
    assert_gone(&e, &id);
    // the handle still reaps what the forced remove killed
    let st = c.wait().unwrap();
    assert_eq!(st.signal(), Some(libc::SIGKILL));
    assert_gone(&e, &id);
}

#[test]
#[ignore = "requires root"]
fn duplicate_and_invalid_names_are_refused() {
    let e = env();
    let name = common::unique("dup");
    let mut first = e.cmd(["sleep", "100"]).name(&name).spawn().unwrap();
    first.kill_on_drop(true);
    let err = e.cmd(["true"]).name(&name).spawn().unwrap_err();
    assert!(matches!(err, Error::ContainerNameInUse { .. }), "{err}");
    assert!(err.to_string().contains(first.id()));
    let err = e.cmd(["true"]).name("-bad name").spawn().unwrap_err();
    assert!(matches!(err, Error::InvalidContainerName { .. }), "{err}");
    assert_eq!(e.engine.containers().list().unwrap().len(), 1);
    let id = first.id().to_owned();
    drop(first); // kill_on_drop: killed, reaped, unmounted
    assert!(common::mounts_with(&id).is_empty());
    assert!(common::cgroups_named(&id).is_empty());
}

#[test]
#[ignore = "requires root"]
fn command_not_found_is_127() {
    let e = env();
    let err = e.cmd(["no-such-command"]).output().unwrap_err();
    assert_eq!(err.exit_code(), Some(127), "{err}");
    assert!(
        err.to_string()
            .contains("executable file not found in $PATH"),
        "{err}"
    );
    let err = e.cmd(["/etc/passwd"]).output().unwrap_err();
    assert_eq!(err.exit_code(), Some(126), "{err}");
    assert_no_containers(&e);
    assert!(common::mounts_with(&e.engine.root().display().to_string()).is_empty());
}

#[test]
#[ignore = "requires root"]
fn refused_limit_leaves_nothing_behind() {
    let e = env();
    // a CFS quota under 1 ms: refused before anything is made, as Docker does
    let err = e.cmd(["true"]).cpu_quota(10).output().unwrap_err();
    assert!(matches!(err, Error::InvalidContainerConfig { .. }), "{err}");
    assert_no_containers(&e);
    assert!(common::mounts_with(&e.engine.root().display().to_string()).is_empty());
    // below Docker's minimum memory: refused before anything is made
    let err = e.cmd(["true"]).memory_limit(1 << 20).output().unwrap_err();
    assert!(matches!(err, Error::InvalidContainerConfig { .. }), "{err}");
}

#[test]
#[ignore = "requires root"]
fn piped_stdin_and_working_dir() {
    let e = env();
    let mut c = e
        .sh("pwd; cat")
        .current_dir("/srv/app")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .auto_remove(true)
        .spawn()
        .unwrap();
    c.take_stdin().unwrap().write_all(b"from stdin\n").unwrap();
    let out = c.wait_with_output().unwrap();
    assert_eq!(stdout(&out), "/srv/app\nfrom stdin\n");
}

#[test]
#[ignore = "requires root"]
fn capabilities_default_add_and_drop() {
    let e = env();
    let caps = |f: &dyn Fn(&mut cargohold::ContainerBuilder<'_>)| {
        let mut b = e.engine.container(&e.image);
        b.args(["sh", "-c", "grep CapBnd /proc/self/status"])
            .auto_remove(true);
        f(&mut b);
        let s = stdout(&b.output().unwrap());
        u64::from_str_radix(s.split_whitespace().nth(1).unwrap(), 16).unwrap()
    };
    assert_eq!(caps(&|_| {}), 0x00000000a80425fb); // Docker's default 14
    let with_admin = caps(&|b| {
        b.cap_add("NET_ADMIN").cap_drop("chown");
    });
    assert_eq!(with_admin, (0x00000000a80425fb | 1 << 12) & !1);
}

#[test]
#[ignore = "requires root"]
fn open_repairs_containers_of_a_dead_owner() {
    let e = env();
    // a container whose record names an owner that is gone
    let mut c = e
        .cmd(["sleep", "100"])
        .name(common::unique("orphan"))
        .spawn()
        .unwrap();
    let id = c.id().to_owned();
    let rec_path = e
        .engine
        .root()
        .join("containers")
        .join(&id)
        .join("container.json");
    let mut v: serde_json::Value = serde_json::from_slice(&fs::read(&rec_path).unwrap()).unwrap();
    v["cargohold.owner"] = serde_json::json!([i32::MAX - 1, 1]);
    fs::write(&rec_path, serde_json::to_vec(&v).unwrap()).unwrap();
    let engine = Engine::open(e.engine.root()).unwrap();
    let info = engine.containers().get(&id).unwrap().inspect().unwrap();
    assert_eq!(info.state.status, Status::Exited);
    assert_eq!(info.state.exit_code, 255);
    assert!(common::mounts_with(&id).is_empty());
    assert!(common::cgroups_named(&id).is_empty());
    let _ = c.wait();
    engine.containers().get(&id).unwrap().remove(false).unwrap();
    assert_gone(&e, &id);
}

#[test]
#[ignore = "requires root"]
fn unknown_image_and_vanished_image_leave_nothing() {
    let e = env();
    let err = e.engine.image("busybox:no-such-tag").unwrap_err();
    assert!(matches!(err, Error::ImageNotFound { .. }), "{err}");
    // the image is removed after the builder was made: spawn fails cleanly
    let mut b = e.engine.container(&e.image);
    b.arg("true");
    let r = e.image.references()[0].clone();
    e.engine.images().remove(&r, false).unwrap();
    let err = b.output().unwrap_err();
    assert!(matches!(err, Error::ImageNotFound { .. }), "{err}");
    assert_no_containers(&e);
    assert!(fs::read_dir(e.engine.root().join("holds"))
        .unwrap()
        .next()
        .is_none());
}

#[test]
#[ignore = "requires root"]
fn limits_reach_the_cgroup() {
    let e = env();
    let mut c = e
        .cmd(["sleep", "100"])
        .cpus(0.5)
        .pids_limit(20)
        .memory_limit(32 << 20)
        .spawn()
        .unwrap();
    c.kill_on_drop(true);
    let dirs = common::cgroups_named(c.id());
    let read = |file: &str| {
        dirs.iter()
            .find_map(|d| fs::read_to_string(d.join(file)).ok())
            .unwrap_or_else(|| panic!("{file} not in {dirs:?}"))
    };
    let quota = dirs
        .iter()
        .find_map(|d| {
            fs::read_to_string(d.join("cpu.cfs_quota_us"))
                .or_else(|_| fs::read_to_string(d.join("cpu.max")))
                .ok()
        })
        .unwrap();
    assert!(quota.starts_with("50000"), "{quota}");
    assert_eq!(read("pids.max").trim(), "20");
    let mem = dirs
        .iter()
        .find_map(|d| {
            fs::read_to_string(d.join("memory.limit_in_bytes"))
                .or_else(|_| fs::read_to_string(d.join("memory.max")))
                .ok()
        })
        .unwrap();
    assert_eq!(mem.trim(), (32u64 << 20).to_string());
    // pause and resume through the freezer
    c.pause().unwrap();
    let rec = e.engine.containers().get(c.id()).unwrap();
    assert_eq!(rec.status(), Status::Paused);
    c.resume().unwrap();
    assert_eq!(rec.status(), Status::Running);
    c.kill().unwrap();
    assert_eq!(c.wait().unwrap().signal(), Some(libc::SIGKILL));
}

#[test]
#[ignore = "requires root"]
fn privileged_has_every_capability_and_writable_sys() {
    let e = env();
    let out = e
        .sh("grep CapEff /proc/self/status; grep ' /sys ' /proc/self/mounts")
        .privileged(true)
        .auto_remove(true)
        .output()
        .unwrap();
    let s = stdout(&out);
    // every capability this test process has (a daemon hands out only what it has)
    let status = fs::read_to_string("/proc/self/status").unwrap();
    let want = status
        .lines()
        .find_map(|l| l.strip_prefix("CapBnd:"))
        .unwrap()
        .trim()
        .to_owned();
    assert!(s.contains(&want), "{s}");
    assert!(s.contains(" rw,"), "{s}");
    // a non-root user gets no effective capabilities, as in Docker
    let out = e
        .cmd(["grep", "CapEff", "/proc/self/status"])
        .user("1234")
        .auto_remove(true)
        .output()
        .unwrap();
    assert!(
        stdout(&out).contains("0000000000000000"),
        "{}",
        stdout(&out)
    );
}

#[test]
#[ignore = "requires root"]
fn tty_gives_a_terminal() {
    let e = env();
    let mut c = e
        .sh("test -t 0 && test -t 1 && echo tty:$TERM")
        .tty(true)
        .auto_remove(true)
        .spawn()
        .unwrap();
    let mut term = fs::File::from(c.take_terminal().unwrap());
    let mut s = Vec::new();
    let mut buf = [0u8; 256];
    // the master reads EIO once the last slave fd closes
    while let Ok(n) = term.read(&mut buf) {
        if n == 0 {
            break;
        }
        s.extend_from_slice(&buf[..n]);
    }
    assert!(c.wait().unwrap().success());
    assert_eq!(String::from_utf8_lossy(&s).trim(), "tty:xterm");
}

#[test]
#[ignore = "requires root"]
fn rename_labels_try_wait_and_prune() {
    let e = env();
    let mut c = e
        .sh("cat >/dev/null")
        .stdin(Stdio::piped())
        .label("team", "core")
        .name(common::unique("old"))
        .spawn()
        .unwrap();
    assert!(c.try_wait().unwrap().is_none());
    let mut rec = e.engine.containers().get(c.name()).unwrap();
    assert_eq!(rec.labels()["team"], "core");
    let new = common::unique("new");
    rec.rename(&new).unwrap();
    assert_eq!(e.engine.containers().get(&new).unwrap().id(), c.id());
    assert!(e.engine.containers().get(c.name()).is_err());
    drop(c.take_stdin());
    let t = Instant::now();
    let status = loop {
        if let Some(s) = c.try_wait().unwrap() {
            break s;
        }
        assert!(t.elapsed() < Duration::from_secs(10));
        std::thread::sleep(Duration::from_millis(10));
    };
    assert!(status.success());
    // a second, still running container survives the prune
    let mut running = e.cmd(["sleep", "100"]).spawn().unwrap();
    running.kill_on_drop(true);
    let pruned = e.engine.containers().prune().unwrap();
    assert_eq!(pruned, vec![c.id().to_owned()]);
    assert_eq!(e.engine.containers().list().unwrap().len(), 1);
    let id = running.id().to_owned();
    running.stop(Duration::from_millis(100)).unwrap();
    assert_eq!(e.engine.containers().prune().unwrap(), vec![id]);
}

#[test]
#[ignore = "requires root"]
fn layers_stack_top_first_with_whiteouts() {
    let e = env();
    let src = common::busybox().file("etc/from-image", "base\n").rootfs();
    let base = common::dir_layer(src.path());
    let top = common::layer(&[
        ("etc/from-image", Some(b"top\n")),
        ("bin/.wh.wc", Some(b"")),
    ]);
    let tag = format!("layered:{}", common::unique("t"));
    e.engine
        .images()
        .load(&common::docker_archive(common::sh_config(), &[base, top], &tag)[..])
        .unwrap();
    let image = e.engine.image(&tag).unwrap();
    let out = e
        .engine
        .container(&image)
        .args([
            "sh",
            "-c",
            "cat /etc/from-image; test -e /bin/wc || echo no-wc",
        ])
        .auto_remove(true)
        .output()
        .unwrap();
    assert_eq!(stdout(&out), "top\nno-wc\n", "{out:?}");
}

#[test]
#[ignore = "requires root"]
fn seccomp_filter_unless_privileged() {
    let e = env();
    let seccomp = |privileged: bool| {
        let out = e
            .cmd(["grep", "^Seccomp:", "/proc/self/status"])
            .privileged(privileged)
            .auto_remove(true)
            .output()
            .unwrap();
        stdout(&out).split_whitespace().nth(1).unwrap().to_owned()
    };
    assert_eq!(seccomp(false), "2");
    assert_eq!(seccomp(true), "0");
}

#[test]
#[ignore = "requires root"]
fn exec_runs_in_the_container() {
    let e = env();
    let mut c = e
        .cmd(["sleep", "100"])
        .hostname("exechost")
        .env("MODE", "run")
        .spawn()
        .unwrap();
    c.kill_on_drop(true);
    let out = c
        .exec([
            "sh",
            "-c",
            "hostname; echo $MODE $EXTRA; id -u; pwd; ps -o pid,comm | grep -w sleep",
        ])
        .env("EXTRA", "x")
        .user("app")
        .current_dir("/tmp")
        .output()
        .unwrap();
    let s = stdout(&out);
    assert!(
        s.starts_with("exechost\nrun x\n1234\n/tmp\n"),
        "{s} {out:?}"
    );
    assert_eq!(
        s.lines().last().unwrap().split_whitespace().next(),
        Some("1"),
        "{s}"
    );
    let err = c.exec(["no-such"]).output().unwrap_err();
    assert_eq!(err.exit_code(), Some(127), "{err}");
    let st = c.exec(["sh", "-c", "exit 4"]).status().unwrap();
    assert_eq!(st.code(), Some(4));
    c.kill().unwrap();
    c.wait().unwrap();
    assert!(matches!(
        c.exec(["true"]).output(),
        Err(Error::ContainerNotFound { .. } | Error::InvalidState { .. })
    ));
}

#[test]
#[ignore = "requires root"]
fn open_removes_an_interrupted_create() {
    let e = env();
    // what a crash between mkdir and the record leaves: a directory with a mounted rootfs
    let id = format!("{:064x}", std::process::id());
    let dir = e.engine.root().join("containers").join(&id);
    fs::create_dir_all(dir.join("rootfs")).unwrap();
    let rootfs = dir.join("rootfs");
    let st = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "leftover", rootfs.to_str().unwrap()])
        .status()
        .unwrap();
    assert!(st.success());
    assert!(!common::mounts_with(&id).is_empty());
    let engine = Engine::open(e.engine.root()).unwrap();
    assert!(common::mounts_with(&id).is_empty());
    assert!(!dir.exists());
    assert!(engine.containers().list().unwrap().is_empty());
}

#[test]
#[ignore = "requires root"]
fn named_volume_is_shared_and_held_until_removed() {
    let e = env();
    let vol = common::unique("vol");
    let out = e
        .sh("echo from-first > /data/f")
        .volume(&vol, "/data")
        .auto_remove(true)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    // the first container is gone, the volume is not, and nobody holds it
    assert_no_containers(&e);
    assert!(e.engine.volumes().users(&vol).unwrap().is_empty());
    let volume = e.engine.volume(&vol).unwrap();
    let out = e
        .sh("cat /data/f")
        .volume(&volume, "/data")
        .output()
        .unwrap();
    assert_eq!(stdout(&out), "from-first\n");
    let c = only_container(&e);
    let info = c.inspect().unwrap();
    assert_eq!(info.mounts.len(), 1);
    let json = serde_json::to_value(&info.mounts[0]).unwrap();
    assert_eq!(json["Type"], "volume");
    assert_eq!(json["Name"], vol.as_str());
    assert_eq!(json["Destination"], "/data");
    assert_eq!(json["Driver"], "local");
    assert_eq!(json["RW"], true);
    assert_eq!(json["Source"], volume.mountpoint().display().to_string());
    // the exited container still holds it, as in Docker
    match e.engine.volumes().remove(&vol, false) {
        Err(Error::VolumeInUse { users, .. }) => assert_eq!(users, [c.id().to_owned()]),
        other => panic!("{other:?}"),
    }
    c.remove(false).unwrap();
    e.engine.volumes().remove(&vol, false).unwrap();
    assert!(matches!(
        e.engine.volume(&vol),
        Err(Error::VolumeNotFound { .. })
    ));
}

#[test]
#[ignore = "requires root"]
fn bind_mounts_read_only_and_read_write() {
    let e = env();
    let host = tempfile::tempdir().unwrap();
    fs::write(host.path().join("f"), "host file\n").unwrap();
    let out = e
        .sh("cat /ro/f; touch /ro/new && echo wrote; echo rw > /rw/out")
        .mount(cargohold::Mount::bind(host.path(), "/ro").read_only())
        .mount(cargohold::Mount::bind(host.path(), "/rw"))
        .output()
        .unwrap();
    assert_eq!(stdout(&out), "host file\n");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Read-only file system"),
        "{out:?}"
    );
    assert!(!host.path().join("new").exists());
    assert_eq!(fs::read_to_string(host.path().join("out")).unwrap(), "rw\n");
    let c = only_container(&e);
    let mounts = c.inspect().unwrap().mounts;
    let json = serde_json::to_value(&mounts).unwrap();
    assert_eq!(json[0]["Type"], "bind");
    assert_eq!(json[0]["Source"], host.path().display().to_string());
    assert_eq!(json[0]["RW"], false);
    assert_eq!(json[0]["Propagation"], "rprivate");
    assert!(json[0].get("Name").is_none());
    assert_eq!(json[1]["RW"], true);
    let id = c.id().to_owned();
    c.remove(false).unwrap();
    assert_gone(&e, &id);

    // a missing bind source fails the spawn and leaves nothing behind
    let missing = host.path().join("nope");
    match e
        .sh("true")
        .mount(cargohold::Mount::bind(&missing, "/x"))
        .output()
    {
        Err(Error::BindSourceNotFound { path }) => assert_eq!(path, missing),
        other => panic!("{other:?}"),
    }
    // so do two mounts at one destination
    let dup = e
        .sh("true")
        .volume(common::unique("a"), "/x")
        .mount(cargohold::Mount::tmpfs("/x/"))
        .output();
    assert!(
        matches!(dup, Err(Error::InvalidContainerConfig { .. })),
        "{dup:?}"
    );
    assert_no_containers(&e);
    assert!(e.engine.volumes().list(&[]).unwrap().is_empty());
}

#[test]
#[ignore = "requires root"]
fn tmpfs_mount_with_size_and_mode() {
    let e = env();
    let out = e.sh("grep ' /scratch ' /proc/mounts; echo x > /scratch/f && cat /scratch/f; stat -c %a /scratch",
    )
    .mount(cargohold::Mount::tmpfs("/scratch").size(1 << 20).mode(0o1777))
    .auto_remove(true)
    .output()
    .unwrap();
    let text = stdout(&out);
    assert!(out.status.success(), "{out:?}");
    let line = text.lines().next().unwrap();
    assert!(line.starts_with("tmpfs /scratch tmpfs rw,"), "{text}");
    assert!(
        line.contains("size=1024k") && line.contains("noexec"),
        "{text}"
    );
    assert!(text.contains("\nx\n1777\n"), "{text}");
    assert_no_containers(&e);
}

#[test]
#[ignore = "requires root"]
fn new_volumes_are_filled_from_the_image() {
    // a named volume, on first mount
    let e = env();
    let vol = common::unique("seed");
    let out = e
        .sh("cat /seed/hello; echo more > /seed/more")
        .volume(&vol, "/seed")
        .auto_remove(true)
        .output()
        .unwrap();
    assert_eq!(stdout(&out), "seeded\n");
    let v = e.engine.volume(&vol).unwrap();
    assert!(v.is_populated());
    assert_eq!(
        fs::read_to_string(v.mountpoint().join("hello")).unwrap(),
        "seeded\n"
    );
    // never again: a later container sees what the first left, over the image's content
    fs::remove_file(v.mountpoint().join("hello")).unwrap();
    let out = e
        .sh("ls /seed")
        .volume(&vol, "/seed")
        .auto_remove(true)
        .output()
        .unwrap();
    assert_eq!(stdout(&out), "more\n");

    // the image's `Volumes` get anonymous volumes, filled too; `--rm` removes them
    let e = env_with(image().config(|c| c.volumes(vec!["/seed".to_owned()])));
    let out = e.sh("cat /seed/hello").output().unwrap();
    assert_eq!(stdout(&out), "seeded\n");
    let anon = e
        .engine
        .volumes()
        .list(&[cargohold::ANONYMOUS_LABEL])
        .unwrap();
    assert_eq!(anon.len(), 1);
    let c = only_container(&e);
    let m = &c.inspect().unwrap().mounts;
    assert_eq!(m[0].name.as_deref(), Some(anon[0].name()));
    c.remove(false).unwrap();
    // a plain remove keeps it (as `docker rm` without -v)
    assert!(e.engine.volumes().users(anon[0].name()).unwrap().is_empty());
    let out = e.sh("true").auto_remove(true).output().unwrap();
    assert!(out.status.success());
    assert_eq!(e.engine.volumes().list(&[]).unwrap().len(), 1);
}

#[test]
#[ignore = "requires root"]
fn list_filters_by_name_label_status_and_ancestor() {
    use cargohold::ContainerFilter;
    let e = env();
    let web = common::unique("web");
    let db = common::unique("db");
    let mut a = e
        .sh("sleep 100")
        .name(&web)
        .label("app", "shop")
        .label("tier", "front")
        .spawn()
        .unwrap();
    a.kill_on_drop(true);
    let mut b = e
        .sh("sleep 100")
        .name(&db)
        .label("app", "shop")
        .label("tier", "back")
        .spawn()
        .unwrap();
    b.kill_on_drop(true);
    let done = e.sh("exit 3").name(common::unique("job")).status().unwrap();
    assert_eq!(done.code(), Some(3));
    let names = |f: ContainerFilter| -> Vec<String> {
        let mut v: Vec<String> = e
            .engine
            .containers()
            .filter(&f)
            .unwrap()
            .iter()
            .map(|c| c.name().to_owned())
            .collect();
        v.sort();
        v
    };
    let mut both = vec![web.clone(), db.clone()];
    both.sort();
    // `docker ps`: running only; `-a`: all three
    assert_eq!(names(ContainerFilter::new()), both);
    assert_eq!(names(ContainerFilter::new().all(true)).len(), 3);
    assert_eq!(names(ContainerFilter::new().label("app=shop")), both);
    assert_eq!(
        names(ContainerFilter::new().label("app=shop").label("tier=back")),
        vec![db.clone()]
    );
    assert_eq!(names(ContainerFilter::new().label("tier")), both);
    assert!(names(ContainerFilter::new().label("app=other")).is_empty());
    assert_eq!(
        names(ContainerFilter::new().name(&web[..6])),
        vec![web.clone()]
    );
    let exited = names(ContainerFilter::new().status(Status::Exited));
    assert_eq!(exited.len(), 1);
    assert!(exited[0].starts_with("job"), "{exited:?}");
    // two statuses: either
    let f = ContainerFilter::new()
        .parse("status=exited")
        .unwrap()
        .parse("status=running")
        .unwrap();
    assert_eq!(names(f).len(), 3);
    let by_image = names(ContainerFilter::new().ancestor(e.image.id().to_string()));
    assert_eq!(by_image, both);
    let id_prefix = &a.id()[..10];
    assert_eq!(
        names(
            ContainerFilter::new()
                .parse(&format!("id={id_prefix}"))
                .unwrap()
        ),
        vec![web.clone()]
    );
    for bad in ["status=sleeping", "colour=red", "name"] {
        let err = ContainerFilter::new().parse(bad).unwrap_err();
        assert!(
            matches!(err, Error::InvalidFilter { ref filter, .. } if filter == bad),
            "{err}"
        );
    }
}

/// An ephemeral container spawned from a thread that then ends keeps running (the kernel's
/// parent-death signal watches the cloning thread, so the spawn happens on a thread that
/// lives as long as the process); dropping its handle kills and removes it.
#[test]
#[ignore = "requires root"]
fn ephemeral_outlives_its_spawning_thread_and_goes_with_its_handle() {
    let e = env();
    let engine = e.engine.clone();
    let image = e.image.clone();
    let c = std::thread::spawn(move || {
        engine
            .container(&image)
            .args(["sleep", "100"])
            .ephemeral(true)
            .spawn()
            .unwrap()
    })
    .join()
    .unwrap();
    let id = c.id().to_owned();
    let pid = c.pid();
    std::thread::sleep(Duration::from_millis(200));
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let state = stat[stat.rfind(')').unwrap() + 2..].chars().next().unwrap();
    assert!(
        state != 'Z' && state != 'X',
        "the init died with its thread: {stat}"
    );
    let info = e.engine.containers().get(&id).unwrap().inspect().unwrap();
    assert_eq!(info.state.status, Status::Running);
    assert!(
        info.host_config.auto_remove,
        "ephemeral implies auto-remove"
    );
    drop(c);
    assert_gone(&e, &id);
    assert_no_containers(&e);
}

/// `create` of what only a started container can be: refused before anything is made;
/// so are reuse without a name and ephemeral with a restart policy.
#[test]
#[ignore = "requires root"]
fn create_refuses_ephemeral_and_reuse() {
    let e = env();
    for (what, err) in [
        (
            "ephemeral",
            e.sh("true").ephemeral(true).create().unwrap_err(),
        ),
        (
            "reuse",
            e.sh("true")
                .name(common::unique("r"))
                .reuse(true)
                .create()
                .unwrap_err(),
        ),
        (
            "reuse",
            e.sh("true").reuse(true).detach(true).spawn().unwrap_err(),
        ),
        (
            "ephemeral",
            e.sh("true")
                .ephemeral(true)
                .detach(true)
                .restart(cargohold::RestartPolicy::Always)
                .spawn()
                .unwrap_err(),
        ),
    ] {
        assert!(
            matches!(err, Error::InvalidContainerConfig { .. }),
            "{what}: {err}"
        );
    }
    assert_no_containers(&e);
}

/// `exec` with a terminal: the process sees a pty, its stdout and stderr come through it;
/// the persisted record execs too.
#[test]
#[ignore = "requires root"]
fn exec_with_a_tty_and_from_the_record() {
    let e = env();
    let mut c = e
        .sh("sleep 100")
        .name(common::unique("ex"))
        .spawn()
        .unwrap();
    c.kill_on_drop(true);
    let out = c
        .exec(["sh", "-c", "tty; echo out; echo err >&2"])
        .tty(true)
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = stdout(&out);
    assert!(text.contains("/dev/pts/"), "{text:?}");
    assert!(
        text.contains("out\r\n") && text.contains("err\r\n"),
        "{text:?}"
    );
    assert!(out.stderr.is_empty());
    let plain = c.exec(["sh", "-c", "tty || true"]).output().unwrap();
    assert_eq!(stdout(&plain), "not a tty\n");
    let rec = e.engine.containers().get(c.name()).unwrap();
    let out = rec
        .exec(["sh", "-c", "echo $MODE $WHO; exit 4"])
        .env("WHO", "record")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4));
    assert_eq!(stdout(&out), "image record\n");
    c.kill().unwrap();
    c.wait().unwrap();
    let err = rec.exec(["true"]).output().unwrap_err();
    assert!(
        matches!(
            err,
            Error::InvalidState { .. } | Error::ContainerNotFound { .. }
        ),
        "{err}"
    );
}

/// `Store::image_size` is the uncompressed size (as `docker images` shows it), whatever the
/// compression the layer came with; `Image::size` is what is stored.
#[test]
#[ignore = "requires root"]
fn image_size_counts_uncompressed_layers() {
    use std::io::Write as _;
    let e = env();
    let mut b = tar::Builder::new(Vec::new());
    let zeros = vec![0u8; 256 << 10];
    let mut h = tar::Header::new_gnu();
    h.set_mode(0o644);
    h.set_size(zeros.len() as u64);
    b.append_data(&mut h, "zeros", &zeros[..]).unwrap();
    let raw = b.into_inner().unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&raw).unwrap();
    let gz = gz.finish().unwrap();
    assert!(gz.len() * 10 < raw.len());
    // a docker-archive whose layer is gzip-compressed (diff id of the plain tar)
    let plain = common::docker_archive(
        common::sh_config(),
        std::slice::from_ref(&raw),
        "sized:plain",
    );
    let mut ar = tar::Archive::new(&plain[..]);
    let mut b = tar::Builder::new(Vec::new());
    for entry in ar.entries().unwrap() {
        let mut entry = entry.unwrap();
        let path = entry.path().unwrap().into_owned();
        let mut data = Vec::new();
        entry.read_to_end(&mut data).unwrap();
        if path.to_str() == Some("l0/layer.tar") {
            data = gz.clone();
        }
        if path.to_str() == Some("manifest.json") {
            data = String::from_utf8(data)
                .unwrap()
                .replace("sized:plain", "sized:gzip")
                .into_bytes();
        }
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o644);
        h.set_size(data.len() as u64);
        b.append_data(&mut h, &path, &data[..]).unwrap();
    }
    let zipped = b.into_inner().unwrap();
    let loaded = e.engine.images().load(&zipped[..]).unwrap();
    let img = &loaded[0];
    let config = img.size() - gz.len() as u64;
    assert_eq!(img.size(), gz.len() as u64 + config, "stored: compressed");
    // not unpacked yet: counted as stored
    assert_eq!(e.engine.images().size(img), img.size());
    // unpacked (as a container's start does): then the size is the plain tar's
    e.engine
        .images()
        .rootfs_layers(&"sized:gzip".parse().unwrap())
        .unwrap();
    assert_eq!(
        e.engine.images().size(img),
        raw.len() as u64 + config,
        "uncompressed once unpacked"
    );
    assert_no_containers(&e);
}

/// A container's own network namespace has its loopback up (Docker's `--network none`):
/// a server on 127.0.0.1 inside is reachable from inside. The client's stdin stays open a
/// moment: busybox nc given /dev/null may hang up before the server's line arrives.
#[test]
#[ignore = "requires root"]
fn loopback_is_up_in_the_containers_network_namespace() {
    let e = env();
    let out = e
        .sh("cat /sys/class/net/lo/flags; ls /sys/class/net; \
         (echo hello | nc -l -p 7000 &) ; \
         i=0; while [ $i -lt 100 ]; do \
           sleep 0.5 | nc 127.0.0.1 7000 && break; sleep 0.1; i=$((i+1)); done")
        .output()
        .unwrap();
    let text = stdout(&out);
    let flags =
        u32::from_str_radix(text.lines().next().unwrap().trim_start_matches("0x"), 16).unwrap();
    assert_eq!(flags & 1, 1, "IFF_UP: {text:?}");
    assert_eq!(text.lines().nth(1), Some("lo"), "only lo: {text:?}");
    assert!(
        text.ends_with("hello\n"),
        "{text:?} {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `stop_timeout` is recorded (Docker's `Config.StopTimeout`) and is what a stop without a
/// timeout of its own uses; 10 s otherwise.
#[test]
#[ignore = "requires root"]
fn stop_timeout_is_recorded() {
    let e = env();
    let mut c = e
        .sh("sleep 100")
        .name(common::unique("st"))
        .stop_timeout(Duration::from_secs(3))
        .stop_signal("SIGUSR1")
        .spawn()
        .unwrap();
    c.kill_on_drop(true);
    let rec = e.engine.containers().get(c.name()).unwrap();
    assert_eq!(rec.stop_timeout(), Duration::from_secs(3));
    let info = rec.inspect().unwrap();
    assert_eq!(info.config.stop_timeout, Some(3));
    assert_eq!(info.config.stop_signal, "SIGUSR1");
    let json = serde_json::to_value(&info).unwrap();
    assert_eq!(json["Config"]["StopTimeout"], 3);
    // sleep as pid 1 ignores SIGUSR1 (no handler, init): SIGKILL after the timeout
    let status = c.stop(rec.stop_timeout()).unwrap();
    assert_eq!(status.signal(), Some(libc::SIGKILL));
    let plain = e.sh("true").name(common::unique("st")).status().unwrap();
    assert!(plain.success());
    let others: Vec<_> = e
        .engine
        .containers()
        .list()
        .unwrap()
        .into_iter()
        .filter(|x| x.id() != rec.id())
        .collect();
    assert_eq!(others[0].stop_timeout(), Duration::from_secs(10));
    assert_eq!(others[0].inspect().unwrap().config.stop_timeout, None);
}

/// `Containers::inspect_filtered` (what `ps` lists): the containers `filter` gives, each
/// with the inspect `inspect()` gives, in the same order.
#[test]
#[ignore = "requires root"]
fn inspect_filtered_is_filter_then_inspect() {
    let e = env();
    let out = e.sh("exit 4").name("if-exited").output().unwrap();
    assert_eq!(out.status.code(), Some(4));
    e.cmd(["true"]).name("if-created").create().unwrap();
    let all = cargohold::ContainerFilter::new().all(true);
    let listed = e.engine.containers().inspect_filtered(&all).unwrap();
    let names: Vec<&str> = listed.iter().map(|(c, _)| c.name()).collect();
    assert_eq!(names, ["if-exited", "if-created"]);
    for (c, info) in &listed {
        assert_eq!(info, &c.inspect().unwrap(), "{}", c.name());
    }
    assert_eq!(listed[0].1.state.exit_code, 4);
    assert_eq!(listed[1].1.state.status, Status::Created);
    let exited = cargohold::ContainerFilter::new().status(Status::Exited);
    let only = e.engine.containers().inspect_filtered(&exited).unwrap();
    assert_eq!(only.len(), 1);
    assert_eq!(only[0].0.name(), "if-exited");
    // without `all`, only running ones
    let running = cargohold::ContainerFilter::new();
    assert!(e
        .engine
        .containers()
        .inspect_filtered(&running)
        .unwrap()
        .is_empty());
}

/// `wait_timeout` leaves a running container running and returns `None`; `output_timeout`
/// kills one that runs past its time and returns what it wrote, and returns a quick one's
/// output and status untouched.
#[test]
#[ignore = "requires root"]
fn wait_timeout_and_output_timeout() {
    let e = env();
    let mut c = e.cmd(["sleep", "100"]).spawn().unwrap();
    let t0 = Instant::now();
    assert_eq!(c.wait_timeout(Duration::from_millis(200)).unwrap(), None);
    assert!(t0.elapsed() >= Duration::from_millis(200));
    let still = e.engine.containers().get(c.id()).unwrap();
    assert_eq!(still.inspect().unwrap().state.status, Status::Running);
    c.kill().unwrap();
    let st = c.wait_timeout(Duration::from_secs(10)).unwrap().unwrap();
    assert_eq!(st.signal(), Some(libc::SIGKILL));

    let slow = e
        .cmd(["sh", "-c", "echo out; echo err >&2; exec sleep 100"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let o = slow.output_timeout(Duration::from_millis(500)).unwrap();
    assert!(o.timed_out);
    assert_eq!(
        (o.stdout.as_slice(), o.stderr.as_slice()),
        (&b"out\n"[..], &b"err\n"[..])
    );
    assert_eq!(o.status.signal(), Some(libc::SIGKILL));

    let quick = e
        .cmd(["sh", "-c", "echo quick; exit 4"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let o = quick.output_timeout(Duration::from_secs(30)).unwrap();
    assert!(!o.timed_out);
    assert_eq!(
        (o.stdout.as_slice(), o.status.code()),
        (&b"quick\n"[..], Some(4))
    );
}
