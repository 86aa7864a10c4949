//! Volumes and mount specs: named volumes in the engine's containers, and bind and tmpfs
//! mounts given to busybox bundles through their runtime spec, as the engine does.

use std::fs;
use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};

use cargohold::{Mount, Stdio, VolumeStore};

use crate::common::{self, Bundle};

/// A busybox bundle running `script` with `mounts` added to its spec (and `df`, which the
/// common rootfs lacks).
fn bundle(script: &str, mounts: Vec<cargohold::oci_spec::runtime::Mount>) -> Bundle {
    let mut b = Bundle::new(&["sh", "-c", script]);
    let _ = symlink("busybox", b.rootfs().join("bin/df"));
    b.edit(|s| {
        let mut all = s.mounts().clone().unwrap();
        all.extend(mounts);
        s.set_mounts(Some(all));
    });
    b
}

fn volumes() -> (tempfile::TempDir, VolumeStore) {
    let root = tempfile::Builder::new()
        .prefix("cargohold-vol")
        .tempdir()
        .unwrap();
    let store = VolumeStore::open(root.path()).unwrap();
    (root, store)
}

#[test]
#[ignore = "requires root"]
fn a_file_written_by_one_container_is_read_by_the_next() {
    // Through the engine's containers: a volume's users are attached at create and released
    // when the container is removed (the plumbing is crate-private).
    let e = common::busybox().engine("cargohold-vol");
    let vs = e.engine.volumes();
    let name = common::unique("vol");
    let first = e
        .sh("echo hello > /data/greeting && id -u > /data/who")
        .volume(&name, "/data")
        .auto_remove(true)
        .output()
        .unwrap();
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert!(vs.users(&name).unwrap().is_empty(), "released with it");

    // Another container: the content is there.
    let second = e
        .sh("cat /data/greeting /data/who")
        .volume(&name, "/data")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let second_id = second.id().to_owned();
    assert_eq!(vs.users(&name).unwrap(), [second_id.as_str()]);
    let ran = second.wait_with_output().unwrap();
    assert!(
        ran.status.success(),
        "{}",
        String::from_utf8_lossy(&ran.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&ran.stdout), "hello\n0\n");

    // In use (its container still exists): refused; released: removed, content and all.
    assert!(matches!(
        vs.remove(&name, false),
        Err(cargohold::Error::VolumeInUse { .. })
    ));
    e.engine
        .containers()
        .get(&second_id)
        .unwrap()
        .remove(false)
        .unwrap();
    assert!(vs.users(&name).unwrap().is_empty());
    let data = vs.get(&name).unwrap().mountpoint().to_owned();
    assert_eq!(
        fs::read_to_string(data.join("greeting")).unwrap(),
        "hello\n"
    );
    vs.remove(&name, false).unwrap();
    assert!(!data.exists());
    assert!(
        common::mounts_with(&name).is_empty(),
        "no mount left behind"
    );
}

#[test]
#[ignore = "requires root"]
fn read_only_volumes_and_binds_refuse_writes() {
    let rt = common::runtime();
    let (_root, vs) = volumes();
    let name = common::unique("ro");
    let v = vs.create(&name, [("k", "v")]).unwrap();
    fs::write(v.mountpoint().join("f"), "kept\n").unwrap();
    let host = tempfile::tempdir().unwrap();
    fs::write(host.path().join("h"), "host\n").unwrap();

    let vol: Mount = format!("{name}:/ro:ro").parse().unwrap();
    let bind = Mount::from_volume_flag(&format!("{}:/hb:ro", host.path().display())).unwrap();
    let rw = Mount::bind(host.path(), "/rw");
    let mounts = vec![
        vol.to_oci(&vs).unwrap(),
        bind.to_oci(&vs).unwrap(),
        rw.to_oci(&vs).unwrap(),
    ];
    let b = bundle(
        "cat /ro/f /hb/h; (echo x > /ro/f) 2>&1; touch /hb/new 2>&1; echo w > /rw/written; echo done",
        mounts,
    );
    let ran = common::run(&rt, &b).unwrap();
    let out = ran.stdout;
    assert!(out.starts_with("kept\nhost\n"), "{out}");
    assert_eq!(out.matches("Read-only file system").count(), 2, "{out}");
    assert!(out.ends_with("done\n"), "{out}");
    assert_eq!(
        fs::read_to_string(v.mountpoint().join("f")).unwrap(),
        "kept\n"
    );
    assert!(!host.path().join("new").exists());
    assert_eq!(
        fs::read_to_string(host.path().join("written")).unwrap(),
        "w\n"
    );
}

#[test]
#[ignore = "requires root"]
fn a_missing_bind_source_is_created_for_v_and_refused_for_mount() {
    let (_root, vs) = volumes();
    let host = tempfile::tempdir().unwrap();
    let missing = host.path().join("made/by/v");
    let spec = format!("{}:/in", missing.display());
    Mount::from_volume_flag(&spec).unwrap().to_oci(&vs).unwrap();
    assert!(missing.is_dir());
    let gone = host.path().join("gone");
    let e = Mount::from_mount_flag(&format!("type=bind,src={},dst=/in", gone.display()))
        .unwrap()
        .to_oci(&vs)
        .unwrap_err();
    assert!(e.to_string().contains(&gone.display().to_string()), "{e}");
    assert!(!gone.exists());
}

#[test]
#[ignore = "requires root"]
fn tmpfs_has_its_size_limit_and_mode() {
    let rt = common::runtime();
    let (_root, vs) = volumes();
    let t = Mount::from_tmpfs_flag("/scratch:size=2m,mode=1770")
        .unwrap()
        .to_oci(&vs)
        .unwrap();
    let b = bundle(
        "df -k /scratch | tail -n 1; stat -c %a /scratch; \
         dd if=/dev/zero of=/scratch/big bs=1024 count=4096 2>/dev/null; echo dd=$?; \
         cp /bin/busybox /scratch/bb 2>/dev/null; /scratch/bb true 2>/dev/null; echo exec=$?; \
         grep ' /scratch ' /proc/mounts",
        vec![t],
    );
    let ran = common::run(&rt, &b).unwrap();
    let out = ran.stdout;
    let lines: Vec<&str> = out.lines().collect();
    let total_kb: u64 = lines[0].split_whitespace().nth(1).unwrap().parse().unwrap();
    assert_eq!(total_kb, 2048, "{out}");
    assert_eq!(lines[1], "1770", "{out}");
    assert_eq!(lines[2], "dd=1", "a write past the limit fails: {out}");
    assert_ne!(lines[3], "exec=0", "noexec by default: {out}");
    let mount = lines[4];
    for o in ["nosuid", "nodev", "noexec", "size=2048k", "mode=1770"] {
        assert!(mount.contains(o), "{o} missing: {mount}");
    }
}

#[test]
#[ignore = "requires root"]
fn populate_copies_image_content_on_first_use_only() {
    // Through the engine's containers: an image with content at the volume's mount point.
    let e = common::busybox().engine("cargohold-vol");
    let vs = e.engine.volumes();
    let name = common::unique("pop");
    let src = common::busybox().rootfs();
    let app = src.path().join("app");
    fs::create_dir_all(app.join("conf")).unwrap();
    fs::write(app.join("conf/site.conf"), "listen 80\n").unwrap();
    fs::set_permissions(
        app.join("conf/site.conf"),
        fs::Permissions::from_mode(0o646),
    )
    .unwrap();
    std::os::unix::fs::chown(app.join("conf/site.conf"), Some(65534), Some(65534)).unwrap();
    symlink("/etc/shadow", app.join("shadow")).unwrap();
    let image = e
        .engine
        .images()
        .import_dir(
            src.path(),
            &common::busybox().image_config(),
            &common::unique("busybox:app").parse().unwrap(),
        )
        .unwrap();

    // First use: populated when the container is made, owners, modes and links kept.
    let mut c1 = e
        .engine
        .container(&image)
        .args([
            "sh",
            "-c",
            "read _; cat /app/conf/site.conf; echo changed > /app/conf/site.conf; rm /app/shadow",
        ])
        .volume(&name, "/app")
        .auto_remove(true)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let data = vs.get(&name).unwrap().mountpoint().to_owned();
    let site = fs::symlink_metadata(data.join("conf/site.conf")).unwrap();
    assert_eq!(
        (site.uid(), site.gid(), site.mode() & 0o7777),
        (65534, 65534, 0o646)
    );
    assert_eq!(
        fs::read_link(data.join("shadow")).unwrap().to_str(),
        Some("/etc/shadow")
    );
    drop(c1.take_stdin());
    let ran = c1.wait_with_output().unwrap();
    assert!(
        ran.status.success(),
        "{}",
        String::from_utf8_lossy(&ran.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&ran.stdout), "listen 80\n");

    // Second use: the volume's content wins, the image's is not copied again.
    let out = e
        .engine
        .container(&image)
        .args(["sh", "-c", "cat /app/conf/site.conf; ls /app"])
        .volume(&name, "/app")
        .auto_remove(true)
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "changed\nconf\n",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The image itself is untouched.
    let out = e
        .engine
        .container(&image)
        .args(["cat", "/app/conf/site.conf"])
        .auto_remove(true)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "listen 80\n");
    assert_eq!(vs.prune().unwrap().volumes, [name]);
}
