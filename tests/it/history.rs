//! `docker history`: [`Image::layer_history`] of an imported busybox, of an image committed
//! from a container (`commit -c 'CMD ...' -m msg`) and of a loaded image with empty-layer
//! entries; `engine history` (table, `--no-trunc`, `-q`, `-H=false`, `--format`, an unknown
//! image).

use std::fs;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use cargohold::{CommitOptions, Image};

use crate::common::{self, TestEngine};

/// Bytes of the file the committed containers write: compressible, so that a compressed
/// size would be far below it.
const DATA: usize = 300_000;

/// What the containers run: long enough to be truncated in the table.
fn script() -> String {
    format!("head -c {DATA} /dev/zero > /data.bin; echo done > /etc/marker")
}

/// Bytes of the regular files under `dir` (hard links counted once).
fn file_bytes(dir: &Path) -> u64 {
    fn walk(dir: &Path, seen: &mut std::collections::HashSet<u64>, total: &mut u64) {
        for e in fs::read_dir(dir).unwrap() {
            let e = e.unwrap();
            let md = fs::symlink_metadata(e.path()).unwrap();
            if md.is_dir() {
                walk(&e.path(), seen, total);
            } else if md.is_file() && seen.insert(std::os::unix::fs::MetadataExt::ino(&md)) {
                *total += md.len();
            }
        }
    }
    let mut total = 0;
    walk(dir, &mut Default::default(), &mut total);
    total
}

/// A busybox engine with a 500 kB file in the image.
fn env() -> TestEngine {
    common::busybox()
        .file("big", vec![b'y'; 500_000])
        .engine("cargohold-history")
}

/// Runs [`script`] in a container of `e`'s image and commits it as `localhost/hist:1` with
/// a `CMD` change and the message `add data`.
fn commit(e: &TestEngine) -> Image {
    let name = common::unique("hist");
    let out = e
        .engine
        .container(&e.image)
        .name(&name)
        .args(["sh", "-c", &script()])
        .output()
        .unwrap();
    common::assert_success(&out);
    let c = e.engine.containers().get(&name).unwrap();
    let img = c
        .commit(&CommitOptions {
            reference: Some("localhost/hist:1".to_owned()),
            message: Some("add data".to_owned()),
            changes: vec![r#"CMD ["cat", "/etc/marker"]"#.to_owned()],
            ..CommitOptions::default()
        })
        .unwrap();
    c.remove(false).unwrap();
    img
}

#[test]
#[ignore = "requires root"]
fn an_imported_image_has_one_entry_with_its_layer_size() {
    let e = env();
    let files = file_bytes(
        common::busybox()
            .file("big", vec![b'y'; 500_000])
            .rootfs()
            .path(),
    );
    let h = e.image.layer_history(&e.engine.images()).unwrap();
    assert_eq!(h.len(), 1, "{h:?}");
    let top = &h[0];
    assert_eq!(top.id.as_ref(), Some(e.image.id()));
    assert!(
        top.created_by.starts_with("cargohold import_dir "),
        "{top:?}"
    );
    assert_eq!(top.comment, "");
    assert!(!top.empty_layer);
    assert_eq!(top.created, e.image.history()[0].created().clone());
    // the uncompressed tar: every file's bytes plus headers and padding
    assert!(top.size >= files, "{} < {files}", top.size);
    assert!(top.size < files + 256 * 1024, "{} vs {files}", top.size);
    // unpacking the layer records the same size, and `docker images` shows it plus the
    // config's
    let images = e.engine.images();
    images.rootfs_layers(&e.reference.parse().unwrap()).unwrap();
    assert_eq!(
        images.size(&e.image),
        top.size + e.image.manifest().config().size()
    );
    assert_eq!(e.image.layer_history(&images).unwrap(), h);
}

#[test]
#[ignore = "requires root"]
fn a_committed_image_has_its_layer_on_top_newest_first() {
    let e = env();
    let base = e.image.layer_history(&e.engine.images()).unwrap();
    let img = commit(&e);
    let h = img.layer_history(&e.engine.images()).unwrap();
    assert_eq!(
        h.len(),
        2,
        "the CMD change adds no entry, as Docker's: {h:?}"
    );

    let top = &h[0];
    assert_eq!(top.id.as_ref(), Some(img.id()));
    assert_eq!(top.created_by, format!("sh -c {}", script()));
    assert_eq!(top.comment, "add data");
    assert!(!top.empty_layer);
    // the file written, uncompressed, plus /etc/marker and the tar's headers
    assert!(
        top.size >= DATA as u64 && top.size < DATA as u64 + 16 * 1024,
        "committed layer size {}",
        top.size
    );

    // below it the base image's entry, its id not stored
    assert_eq!(h[1].id, None);
    assert_eq!(h[1].created_by, base[0].created_by);
    assert_eq!(h[1].size, base[0].size);
    assert_eq!(h[1].created, base[0].created);
    let time = |s: &Option<String>| humantime::parse_rfc3339_weak(s.as_deref().unwrap()).unwrap();
    assert!(time(&top.created) >= time(&h[1].created));

    // the raw OCI history is the same, base first
    let raw = img.history();
    assert_eq!(raw.len(), 2);
    assert_eq!(raw[1].comment().as_deref(), Some("add data"));
    assert_eq!(
        raw[0].created_by().as_deref(),
        Some(base[0].created_by.as_str())
    );
}

#[test]
#[ignore = "requires root"]
fn empty_layer_entries_have_size_zero_and_the_others_map_onto_layers_in_order() {
    let (_root, engine) = common::temp_engine("cargohold-history-load");
    let a = common::layer(&[("a", Some(&[b'a'; 10_000][..]))]);
    let b = common::layer(&[("b", Some(&[b'b'; 70_000][..])), ("c", Some(b"c"))]);
    let (a_len, b_len) = (a.len() as u64, b.len() as u64);
    assert_ne!(a_len, b_len);
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64", "os": "linux", "config": common::sh_config(),
        "rootfs": {"type": "layers", "diff_ids": [common::sha256(&a), common::sha256(&b)]},
        "history": [
            {"created": "2024-01-01T00:00:00Z", "created_by": "ADD a /"},
            {"created": "2024-01-01T00:00:01Z", "created_by": "CMD [\"sh\"]", "empty_layer": true},
            {"created": "2024-01-01T00:00:02Z", "created_by": "RUN make b", "comment": "bee"},
            {"created": "2024-01-01T00:00:03Z", "created_by": "ENV X=1", "empty_layer": true},
        ],
    }))
    .unwrap();
    let manifest = serde_json::to_vec(&serde_json::json!([
        {"Config": "config.json", "RepoTags": ["localhost/loaded:1"],
         "Layers": ["l0/layer.tar", "l1/layer.tar"]}
    ]))
    .unwrap();
    let archive = common::layer(&[
        ("config.json", Some(&config)),
        ("l0/layer.tar", Some(&a)),
        ("l1/layer.tar", Some(&b)),
        ("manifest.json", Some(&manifest)),
    ]);
    let loaded = engine.images().load(&archive[..]).unwrap();
    assert_eq!(loaded.len(), 1);
    let img = engine.image("localhost/loaded:1").unwrap();

    let h = img.layer_history(&engine.images()).unwrap();
    let rows: Vec<(bool, String, u64, String, bool, String)> = h
        .iter()
        .map(|e| {
            (
                e.id.is_some(),
                e.created_by.clone(),
                e.size,
                e.comment.clone(),
                e.empty_layer,
                e.created.clone().unwrap(),
            )
        })
        .collect();
    let row = |id: bool, by: &str, size: u64, comment: &str, empty: bool, t: &str| {
        (
            id,
            by.to_owned(),
            size,
            comment.to_owned(),
            empty,
            t.to_owned(),
        )
    };
    assert_eq!(
        rows,
        [
            row(true, "ENV X=1", 0, "", true, "2024-01-01T00:00:03Z"),
            row(
                false,
                "RUN make b",
                b_len,
                "bee",
                false,
                "2024-01-01T00:00:02Z"
            ),
            row(false, "CMD [\"sh\"]", 0, "", true, "2024-01-01T00:00:01Z"),
            row(false, "ADD a /", a_len, "", false, "2024-01-01T00:00:00Z"),
        ]
    );
    assert_eq!(h[0].id.as_ref(), Some(img.id()));
}

/// `engine --root ROOT args...`, stdout and stderr to files.
fn engine(root: &Path, args: &[&str]) -> Output {
    common::output_via_files(
        Command::new(common::example_bin("engine"))
            .arg("--root")
            .arg(root)
            .args(args)
            .stdin(Stdio::null()),
    )
}

fn ok(root: &Path, args: &[&str]) -> String {
    let o = engine(root, args);
    assert!(
        o.status.success(),
        "engine {args:?}: {:?}\nstderr: {}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

/// The cells of a table line, split on runs of three or more spaces.
fn cells(line: &str) -> Vec<&str> {
    line.split("   ")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect()
}

#[test]
#[ignore = "requires root"]
fn engine_history_prints_docker_table_ids_and_templates() {
    let e = env();
    let root = e.root.path();
    let name = common::unique("hc");
    ok(
        root,
        &["run", "--name", &name, &e.reference, "sh", "-c", &script()],
    );
    let id = ok(
        root,
        &[
            "commit",
            "-m",
            "add data",
            "-c",
            r#"CMD ["cat", "/etc/marker"]"#,
            &name,
            "localhost/hist:1",
        ],
    );
    let id = id.trim().to_owned();
    assert!(id.starts_with("sha256:") && id.len() == 71, "{id:?}");
    let short = &id[7..19];
    ok(root, &["rm", &name]);
    let img = e.engine.image("localhost/hist:1").unwrap();
    let lib = img.layer_history(&e.engine.images()).unwrap();
    let by = format!("sh -c {}", script());

    // the table: header, newest first, ages, truncated command, human sizes, comment
    let table = ok(root, &["history", "localhost/hist:1"]);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 3, "{table}");
    assert_eq!(
        cells(lines[0]),
        ["IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"]
    );
    let top = cells(lines[1]);
    assert_eq!(top.len(), 5, "{top:?}");
    assert_eq!(top[0], short);
    assert!(
        top[1].ends_with(" ago") && top[1].contains("second"),
        "{top:?}"
    );
    let truncated: String = by.chars().take(44).chain(['…']).collect();
    assert_eq!(top[2], truncated);
    assert!(
        top[3].ends_with("kB") && top[3].starts_with("30"),
        "{top:?}"
    );
    assert_eq!(top[4], "add data");
    let below = cells(lines[2]);
    assert_eq!(below[0], "<missing>");
    assert!(below[2].starts_with("cargohold import_dir "), "{below:?}");
    assert_eq!(below.len(), 4, "no comment: {below:?}");
    // the header's columns line up with the rows'
    for col in ["CREATED BY", "SIZE"] {
        let at = lines[0].find(col).unwrap();
        assert_eq!(lines[1].chars().nth(at - 1), Some(' '));
        assert_ne!(
            lines[1].chars().nth(at),
            Some(' '),
            "{col} at {at}: {table}"
        );
    }

    // --no-trunc: the whole id and command
    let full = ok(root, &["history", "--no-trunc", "localhost/hist:1"]);
    let top = cells(full.lines().nth(1).unwrap()).join("|");
    assert!(top.starts_with(&format!("{id}|")), "{top}");
    assert!(top.contains(&format!("|{by}|")), "{top}");

    // -q: ids only, `<missing>` for the base's entry
    assert_eq!(
        ok(root, &["history", "-q", "localhost/hist:1"]),
        format!("{short}\n<missing>\n")
    );
    assert_eq!(
        ok(root, &["history", "-q", "--no-trunc", "localhost/hist:1"]),
        format!("{id}\n<missing>\n")
    );

    // --format with -H=false: raw bytes and RFC 3339 times
    let raw = ok(
        root,
        &[
            "history",
            "--human=false",
            "--format",
            "{{.ID}}|{{.Size}}|{{.Comment}}|{{.CreatedAt}}|{{ .CreatedSince }}",
            "localhost/hist:1",
        ],
    );
    let rows: Vec<Vec<&str>> = raw.lines().map(|l| l.split('|').collect()).collect();
    assert_eq!(rows.len(), 2, "{raw}");
    assert_eq!(rows[0][..3], [short, &lib[0].size.to_string(), "add data"]);
    assert_eq!(rows[1][..3], ["<missing>", &lib[1].size.to_string(), ""]);
    for r in &rows {
        assert!(r[3].ends_with('Z'), "{r:?}");
        humantime::parse_rfc3339(r[3]).unwrap();
        assert_eq!(r[4], r[3], "CreatedSince is the time without -H");
    }
    // the same with -H: sizes human, ages
    let human = ok(
        root,
        &[
            "history",
            "--format",
            "{{.Size}} {{.CreatedSince}}",
            "localhost/hist:1",
        ],
    );
    assert!(human.lines().all(|l| l.ends_with(" ago")), "{human}");
    assert!(human.starts_with("30"), "{human}");

    // a `table` template: its headers, aligned; `\t` separates columns
    let t = ok(
        root,
        &[
            "history",
            "--format",
            r"table {{.ID}}\t{{.CreatedBy}}",
            "localhost/hist:1",
        ],
    );
    let lines: Vec<&str> = t.lines().collect();
    assert_eq!(cells(lines[0]), ["IMAGE", "CREATED BY"]);
    assert_eq!(cells(lines[1]), [short, truncated.as_str()]);
    assert_eq!(cells(lines[2])[0], "<missing>");
    assert_eq!(lines[1].find(&truncated[..5]), lines[0].find("CREATED BY"));

    // errors: exit 1, stderr naming what is wrong, nothing on stdout
    for (args, word) in [
        (&["history", "localhost/nosuch:7"][..], "nosuch:7"),
        (
            &["history", "--format", "{{.Nope}}", "localhost/hist:1"][..],
            "Nope",
        ),
    ] {
        let o = engine(root, args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.contains(word), "{args:?}: {err:?} does not name {word}");
        assert!(o.stdout.is_empty(), "{args:?}");
    }
}
