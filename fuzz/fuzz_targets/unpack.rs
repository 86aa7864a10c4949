//! The unpacker never panics and never touches anything outside its root: whatever the
//! layer holds, the directory around the root keeps exactly the root and an untouched
//! sentinel file.
#![no_main]

use std::fs;
use std::os::unix::fs::MetadataExt;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&flags, layer)) = data.split_first() else {
        return;
    };
    // tmpfs when there is one: thousands of runs a second create and delete trees
    let base = if std::path::Path::new("/dev/shm").is_dir() {
        "/dev/shm"
    } else {
        "/tmp"
    };
    let outer = tempfile::Builder::new()
        .prefix("cargohold-fuzz")
        .tempdir_in(base)
        .unwrap();
    let root = outer.path().join("root");
    fs::create_dir(&root).unwrap();
    let sentinel = outer.path().join("sentinel");
    fs::write(&sentinel, b"sentinel").unwrap();
    let before = fs::symlink_metadata(&sentinel).unwrap();

    let _ = cargohold::__fuzz::unpack_layer(layer, &root, flags & 1 == 0);

    let mut names: Vec<_> = fs::read_dir(outer.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["root", "sentinel"],
        "something was written next to the root"
    );
    let after = fs::symlink_metadata(&sentinel).unwrap();
    assert!(
        after.is_file() && after.nlink() == 1,
        "sentinel replaced or linked"
    );
    assert_eq!(
        (after.mode(), after.uid(), after.gid(), after.mtime()),
        (before.mode(), before.uid(), before.gid(), before.mtime())
    );
    assert_eq!(fs::read(&sentinel).unwrap(), b"sentinel");
    // the root itself stays a directory we can remove
    assert!(fs::symlink_metadata(&root).unwrap().is_dir());
    // trees may hold read-only dirs; make them writable so the tempdir can go
    make_removable(&root);
});

fn make_removable(dir: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    let _ = fs::set_permissions(dir, fs::Permissions::from_mode(0o700));
    if let Ok(rd) = fs::read_dir(dir) {
        for e in rd.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                make_removable(&e.path());
            }
        }
    }
}
