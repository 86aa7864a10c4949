//! The same Dockerfiles built here and by `buildah bud` (Podman's builder, which follows
//! Docker's semantics) give the same files, the same config and a history of the same
//! shape.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Command;

use cargohold::{BuildNetwork, Reference};

use crate::common::{self, run_tool, tool};

/// A beginner's multi-stage Dockerfile: WORKDIR, COPY . , a RUN over the copied files,
/// COPY --from, ENV, EXPOSE, USER, ENTRYPOINT and CMD.
const DOCKERFILE: &str = "FROM {base} AS build\n\
    WORKDIR /src\n\
    COPY . .\n\
    RUN sh ./make.sh > /src/out.txt\n\
    FROM {base}\n\
    ENV APP_HOME=/app MODE=prod\n\
    WORKDIR $APP_HOME\n\
    COPY --from=build /src/out.txt ./\n\
    COPY main.sh /app/bin/\n\
    RUN chmod 0755 /app/bin/main.sh && mkdir -p /app/data && chown 65534 /app/data\n\
    EXPOSE 8080/tcp\n\
    LABEL org.example.app=demo\n\
    USER 65534\n\
    ENTRYPOINT [\"/app/bin/main.sh\"]\n\
    CMD [\"--serve\"]\n";

/// Every path under `root` with its type, mode, owner and (for files) content.
fn tree(root: &Path) -> BTreeMap<String, String> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
        for e in fs::read_dir(dir).unwrap() {
            let e = e.unwrap();
            let p = e.path();
            let m = fs::symlink_metadata(&p).unwrap();
            let rel = p.strip_prefix(root).unwrap().display().to_string();
            let what = if m.is_dir() {
                walk(root, &p, out);
                "dir".to_owned()
            } else if m.is_symlink() {
                format!("-> {}", fs::read_link(&p).unwrap().display())
            } else {
                format!("{:?}", fs::read(&p).unwrap())
            };
            out.insert(
                rel,
                format!("{what} {:o} {}:{}", m.mode() & 0o7777, m.uid(), m.gid()),
            );
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

#[test]
#[ignore = "requires root"]
fn buildah_bud_builds_the_same_image() {
    if !(tool("buildah") && tool("skopeo")) {
        eprintln!("skipping: no buildah or skopeo");
        return;
    }
    let e = common::busybox().engine("cargohold-build-buildah");
    let ctx = tempfile::tempdir().unwrap();
    fs::write(
        ctx.path().join("make.sh"),
        "echo made from $(ls /src | wc -l) files\n",
    )
    .unwrap();
    fs::write(ctx.path().join("main.sh"), "#!/bin/sh\necho main \"$@\"\n").unwrap();
    fs::create_dir(ctx.path().join("docs")).unwrap();
    fs::write(ctx.path().join("docs/readme.txt"), "docs\n").unwrap();
    let dockerfile = DOCKERFILE.replace("{base}", &e.reference);
    fs::write(ctx.path().join("Dockerfile"), &dockerfile).unwrap();

    let ours = e
        .engine
        .build(ctx.path())
        .tag("localhost/same:ours")
        .network(BuildNetwork::None)
        .run()
        .unwrap();

    // buildah, in storage of its own, from the same base image.
    let storage = tempfile::tempdir().unwrap();
    let store_spec = format!(
        "[vfs@{}+{}]",
        storage.path().join("root").display(),
        storage.path().join("run").display()
    );
    let layout = e.engine.images().layout_dir().display().to_string();
    let base: Reference = e.reference.parse().unwrap();
    run_tool(Command::new("skopeo").args([
        "copy",
        "-q",
        &format!("oci:{layout}:{base}"),
        &format!("containers-storage:{store_spec}{base}"),
    ]));
    let buildah = |args: &[&str]| {
        let mut c = Command::new("buildah");
        c.arg("--root")
            .arg(storage.path().join("root"))
            .arg("--runroot")
            .arg(storage.path().join("run"))
            .args(["--storage-driver", "vfs"])
            .args(args);
        run_tool(&mut c)
    };
    buildah(&[
        "bud",
        "-q",
        "--layers",
        "--pull=never",
        "--isolation=chroot",
        "-t",
        "localhost/same:buildah",
        ctx.path().to_str().unwrap(),
    ]);
    let archive = storage.path().join("buildah.tar");
    buildah(&[
        "push",
        "-q",
        "localhost/same:buildah",
        &format!(
            "docker-archive:{}:localhost/same:buildah",
            archive.display()
        ),
    ]);
    let theirs = e
        .engine
        .images()
        .load(fs::File::open(&archive).unwrap())
        .unwrap();
    assert_eq!(theirs.len(), 1);
    let theirs = &theirs[0];

    // The files.
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let images = e.engine.images();
    images
        .flatten(&"localhost/same:ours".parse().unwrap(), a.path())
        .unwrap();
    images
        .flatten(&"localhost/same:buildah".parse().unwrap(), b.path())
        .unwrap();
    let (ta, mut tb) = (tree(a.path()), tree(b.path()));
    // buildah's RUN leaves the empty mount points it bound /etc files and /run on in the
    // layer; BuildKit removes such stubs, and so do we.
    for stub in ["etc/hostname", "etc/hosts", "etc/resolv.conf", "run"] {
        let empty = tb
            .get(stub)
            .is_some_and(|v| v.starts_with("[] ") || v.starts_with("dir "));
        if !ta.contains_key(stub) && empty {
            tb.remove(stub);
        }
    }
    let differ: Vec<_> = ta
        .keys()
        .chain(tb.keys())
        .filter(|k| ta.get(*k) != tb.get(*k))
        .map(|k| format!("{k}: ours {:?} buildah {:?}", ta.get(k), tb.get(k)))
        .collect();
    assert!(differ.is_empty(), "{differ:#?}");
    // make.sh, main.sh, docs, Dockerfile and the out.txt the redirection made first.
    assert!(
        ta["app/out.txt"].starts_with(&format!("{:?}", b"made from 5 files\n")),
        "{:?}",
        ta["app/out.txt"]
    );

    // The config.
    let (ca, cb) = (
        ours.config().config().clone().unwrap(),
        theirs.config().config().clone().unwrap(),
    );
    assert_eq!(ca.entrypoint(), cb.entrypoint());
    assert_eq!(ca.cmd(), cb.cmd());
    assert_eq!(ca.env(), cb.env());
    assert_eq!(ca.working_dir(), cb.working_dir());
    assert_eq!(ca.user(), cb.user());
    assert_eq!(ca.exposed_ports(), cb.exposed_ports());
    let label = |c: &cargohold::oci_spec::image::Config| {
        c.labels()
            .clone()
            .unwrap_or_default()
            .get("org.example.app")
            .cloned()
    };
    assert_eq!(label(&ca), label(&cb));

    // The history: the same instructions in the same order, the same ones owning a
    // layer — but WORKDIR, which owns one in BuildKit (it makes the directory) and none in
    // buildah, as in Docker's classic builder. (buildah writes the classic
    // `/bin/sh -c #(nop) ` texts, BuildKit its own.)
    let words = |img: &cargohold::Image| -> Vec<(String, bool)> {
        img.history()
            .iter()
            .skip(1)
            .map(|h| {
                let text = h.created_by().clone().unwrap_or_default();
                let word = match text.strip_prefix("/bin/sh -c ") {
                    Some(rest) => match rest.strip_prefix("#(nop) ") {
                        Some(nop) => nop.split_whitespace().next().unwrap_or(""),
                        None => "RUN",
                    },
                    None => text.split_whitespace().next().unwrap_or(""),
                }
                .to_owned();
                let layer = !h.empty_layer().unwrap_or(false) && word != "WORKDIR";
                (word, layer)
            })
            .collect()
    };
    let (wa, wb) = (words(&ours), words(theirs));
    assert_eq!(
        wa,
        wb,
        "ours {:#?}\nbuildah {:#?}",
        ours.history(),
        theirs.history()
    );
    let workdirs = wa.iter().filter(|(w, _)| w == "WORKDIR").count();
    assert_eq!(ours.diff_ids().len(), theirs.diff_ids().len() + workdirs);
}
