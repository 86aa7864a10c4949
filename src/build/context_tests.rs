use std::fs::{self, File};
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::Path;
use std::time::{Duration, SystemTime};

use super::*;

/// [`Context::open`] then [`Context::digest`].
fn digest(root: impl AsRef<Path>, sources: &[impl AsRef<str>]) -> Result<Digest> {
    Context::open(root)?.digest(sources)
}

fn write(root: &Path, rel: &str, content: &str) {
    let p = root.join(rel);
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(&p, content).unwrap();
    fs::set_permissions(&p, fs::Permissions::from_mode(0o644)).unwrap();
}

fn paths(entries: &[Entry]) -> Vec<String> {
    entries
        .iter()
        .map(|e| e.path.to_str().unwrap().to_string())
        .collect()
}

const USER_IGNORE: &str = "# what users write\nnode_modules\n**/*.log\n!important.log\n.git\n";

/// A context as users have them.
fn user_context(root: &Path) {
    write(root, ".dockerignore", USER_IGNORE);
    write(root, "Dockerfile", "FROM busybox\nCOPY . /app\n");
    write(root, "src/main.js", "console.log(1)\n");
    write(root, "src/debug.log", "noise\n");
    write(
        root,
        "src/important.log",
        "only the top one is re-included\n",
    );
    write(root, "important.log", "keep me\n");
    write(root, "other.log", "noise\n");
    write(root, "node_modules/left/index.js", "module.exports = 1\n");
    write(root, ".git/HEAD", "ref: refs/heads/main\n");
    write(root, "docs/a.md", "# a\n");
    symlink("src/main.js", root.join("link")).unwrap();
}

#[test]
fn walk_honours_dockerignore() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    user_context(root);
    let _sock = std::os::unix::net::UnixListener::bind(root.join("sock")).unwrap();

    let ctx = Context::open(root).unwrap();
    let entries = ctx.walk().unwrap();
    assert_eq!(
        paths(&entries),
        [
            ".dockerignore",
            "Dockerfile",
            "docs",
            "docs/a.md",
            "important.log",
            "link",
            "sock",
            "src",
            "src/main.js",
        ]
    );
    let by = |p: &str| entries.iter().find(|e| e.path == Path::new(p)).unwrap();
    assert_eq!(by("link").kind, FileKind::Symlink);
    assert_eq!(by("link").target.as_deref(), Some(Path::new("src/main.js")));
    assert!(!by("link").is_special());
    assert_eq!(by("sock").kind, FileKind::Socket);
    assert!(by("sock").is_special());
    assert_eq!(by("src").kind, FileKind::Dir);
    assert_eq!(by("docs/a.md").kind, FileKind::File);
    assert_eq!(by("docs/a.md").size, 4);
    assert_eq!(by("docs/a.md").mode, 0o644);
    // The walk is the same every time.
    assert_eq!(ctx.walk().unwrap(), entries);
}

#[test]
fn walk_descends_where_an_exception_may_reinclude() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, "node_modules/a/keep.txt", "k");
    write(root, "node_modules/a/drop.js", "d");
    write(root, "node_modules/b/drop.js", "d");
    write(root, "top.txt", "t");
    let walked = |ignore: &str| {
        let ctx = Context::new(root, Ignore::parse(ignore).unwrap());
        assert_eq!(
            paths(&ctx.walk().unwrap()),
            [
                "node_modules",
                "node_modules/a",
                "node_modules/a/keep.txt",
                "top.txt"
            ],
            "{ignore:?}"
        );
        ctx
    };
    // A wildcard exception: excluded directories are walked, and listed when something
    // under them comes back.
    walked("node_modules\n!**/keep.txt\n");
    // A literal one under the directory: the same, without wildcards.
    let ctx = walked("node_modules\n!node_modules/a/keep.txt\n");
    // COPY sees what the walk lists: the excluded directory holds the re-included file.
    let found = ctx.resolve("node_modules").unwrap();
    assert_eq!(paths(&found), ["node_modules"]);
    let key = ctx.digest(&["node_modules"]).unwrap();
    write(root, "node_modules/b/drop.js", "changed");
    assert_eq!(ctx.digest(&["node_modules"]).unwrap(), key);
    write(root, "node_modules/a/keep.txt", "changed");
    assert_ne!(ctx.digest(&["node_modules"]).unwrap(), key);
    let e = ctx.resolve("node_modules/b").unwrap_err().to_string();
    assert!(e.contains("not found"), "{e}");
    // No exception below it: skipped whole.
    let ctx = Context::new(root, Ignore::parse("node_modules\n!top.txt\n").unwrap());
    assert_eq!(paths(&ctx.walk().unwrap()), ["top.txt"]);
}

/// The same tree in a fresh directory.
fn tree() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    user_context(root);
    write(root, "a.txt", "a\n");
    write(root, "b.txt", "b\n");
    write(root, "c.md", "c\n");
    fs::set_permissions(root.join("src"), fs::Permissions::from_mode(0o755)).unwrap();
    fs::set_permissions(root.join("docs"), fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

const SOURCES: &[&str] = &[".", "src", "*.txt", "link"];

#[test]
fn digest_same_content_same_key_anywhere() {
    let (one, two) = (tree(), tree());
    let d1 = digest(one.path(), SOURCES).unwrap();
    assert_eq!(d1, digest(two.path(), SOURCES).unwrap());
    assert!(d1.to_string().starts_with("sha256:"), "{d1}");
    // Each source on its own is a different key.
    for s in SOURCES {
        assert_ne!(digest(one.path(), &[s]).unwrap(), d1, "{s}");
    }
}

#[test]
fn digest_ignores_mtimes() {
    let t = tree();
    let before = digest(t.path(), SOURCES).unwrap();
    let then = SystemTime::now() - Duration::from_secs(86_400 * 365);
    for p in ["a.txt", "src/main.js", "src", "."] {
        let f = File::open(t.path().join(p)).unwrap();
        f.set_modified(then).unwrap();
    }
    // A file rewritten with the same bytes also only changes its times.
    write(t.path(), "b.txt", "b\n");
    assert_eq!(digest(t.path(), SOURCES).unwrap(), before);
}

/// A named change to a tree.
type Change = (&'static str, fn(&Path));

#[test]
fn digest_changes_with_content_and_metadata() {
    let changes: &[Change] = &[
        ("edit", |r| write(r, "src/main.js", "console.log(2)\n")),
        ("same size edit", |r| write(r, "a.txt", "A\n")),
        ("chmod file", |r| {
            fs::set_permissions(r.join("a.txt"), fs::Permissions::from_mode(0o600)).unwrap()
        }),
        ("chmod dir", |r| {
            fs::set_permissions(r.join("src"), fs::Permissions::from_mode(0o700)).unwrap()
        }),
        ("rename", |r| {
            fs::rename(r.join("docs/a.md"), r.join("docs/b.md")).unwrap()
        }),
        ("added file", |r| write(r, "docs/b.md", "")),
        ("added empty file", |r| write(r, "src/empty", "")),
        ("added dir", |r| {
            fs::create_dir(r.join("docs/more")).unwrap()
        }),
        ("removed file", |r| {
            fs::remove_file(r.join("docs/a.md")).unwrap()
        }),
        ("symlink retarget", |r| {
            fs::remove_file(r.join("link")).unwrap();
            symlink("src/../src/main.js", r.join("link")).unwrap();
        }),
        ("new glob match", |r| write(r, "d.txt", "")),
        ("dockerignore edit", |r| {
            write(r, ".dockerignore", &format!("{USER_IGNORE}docs\n"))
        }),
    ];
    let before = digest(tree().path(), SOURCES).unwrap();
    for (what, change) in changes {
        let t = tree();
        change(t.path());
        assert_ne!(digest(t.path(), SOURCES).unwrap(), before, "{what}");
    }
    // What .dockerignore leaves out is not part of the key.
    let t = tree();
    write(t.path(), "node_modules/left/index.js", "changed");
    write(t.path(), "src/debug.log", "changed");
    write(t.path(), "node_modules/new.js", "");
    assert_eq!(digest(t.path(), SOURCES).unwrap(), before);
}

#[test]
fn digest_reads_large_files_to_the_end() {
    let t = tempfile::tempdir().unwrap();
    let big = vec![7u8; (3 << 20) + 123];
    fs::write(t.path().join("big"), &big).unwrap();
    let before = digest(t.path(), &["big"]).unwrap();
    let mut changed = big.clone();
    *changed.last_mut().unwrap() = 8;
    fs::write(t.path().join("big"), &changed).unwrap();
    assert_ne!(digest(t.path(), &["big"]).unwrap(), before);
    fs::write(t.path().join("big"), &big).unwrap();
    assert_eq!(digest(t.path(), &["big"]).unwrap(), before);
}

#[test]
fn glob_sources() {
    let t = tree();
    let root = t.path();
    write(root, "sub/x1.js", "");
    write(root, "sub/x2.js", "");
    write(root, "sub/y.txt", "");
    write(root, "sub2/x3.js", "");
    let ctx = Context::open(root).unwrap();
    let found = |s: &str| paths(&ctx.resolve(s).unwrap());
    assert_eq!(found("*.txt"), ["a.txt", "b.txt"]);
    assert_eq!(found("[ab].txt"), ["a.txt", "b.txt"]);
    assert_eq!(found("[^a].txt"), ["b.txt"]);
    assert_eq!(found("?.md"), ["c.md"]);
    assert_eq!(
        found("sub*/x*.js"),
        ["sub/x1.js", "sub/x2.js", "sub2/x3.js"]
    );
    assert_eq!(found("*/y.txt"), ["sub/y.txt"]);
    assert_eq!(found("s?b"), ["sub"]);
    // Excluded files are not in the context, so no glob matches them.
    assert_eq!(found("*.log"), ["important.log"]);
    assert_eq!(found("src/*"), ["src/main.js"]);
    // Literal sources, a leading `/`, `.` and cleaning.
    assert_eq!(found("a.txt"), ["a.txt"]);
    assert_eq!(found("/a.txt"), ["a.txt"]);
    assert_eq!(found("./sub/../a.txt"), ["a.txt"]);
    assert_eq!(found("."), [""]);
    assert_eq!(found("/"), [""]);
    // A symlink source is followed (to its target's entry).
    let link = ctx.resolve("link").unwrap();
    assert_eq!(link[0].path, Path::new("src/main.js"));
    assert_eq!(link[0].kind, FileKind::File);

    for (source, reason) in [
        ("*.zip", "no files match the pattern"),
        ("sub/*.txt/x", "no files match the pattern"),
        ("missing.txt", "not found in the build context"),
        ("a.txt/x", "not found in the build context"),
        (
            "node_modules/left/index.js",
            "not found in the build context",
        ),
        ("other.log", "not found in the build context"),
        ("/etc/passwd", "not found in the build context"),
        ("[", "syntax error in pattern"),
    ] {
        assert_refused(&ctx, source, reason);
    }
    // The digest reports the source it cannot resolve.
    let e = ctx.digest(&["a.txt", "*.zip"]).unwrap_err().to_string();
    assert!(e.contains("\"*.zip\""), "{e}");
}

#[test]
fn escaping_sources_are_refused() {
    let outer = tempfile::tempdir().unwrap();
    write(outer.path(), "secret", "s");
    let root = outer.path().join("ctx");
    write(&root, "dir/file", "f");
    symlink("../secret", root.join("up")).unwrap();
    symlink("../../secret", root.join("dir/up2")).unwrap();
    symlink(outer.path().join("secret"), root.join("abs")).unwrap();
    symlink("/", root.join("dir/slash")).unwrap();
    symlink("dir", root.join("inside")).unwrap();
    symlink("../dir/file", root.join("dir/back")).unwrap();
    symlink("loop2", root.join("loop1")).unwrap();
    symlink("loop1", root.join("loop2")).unwrap();
    let ctx = Context::open(&root).unwrap();

    for (source, reason) in [
        ("../secret", "outside the build context"),
        ("..", "outside the build context"),
        ("dir/../../secret", "outside the build context"),
        ("up", "symlink up leads outside"),
        ("dir/up2", "symlink dir/up2 leads outside"),
        ("abs", "symlink abs leads outside"),
        ("dir/slash/etc", "symlink dir/slash leads outside"),
        ("inside/up2", "symlink dir/up2 leads outside"),
        ("u*", "symlink up leads outside"),
        ("loop1", "too many levels of symbolic links"),
    ] {
        assert_refused(&ctx, source, reason);
        assert!(ctx.digest(&[source]).is_err(), "{source}");
    }
    // Symlinks that stay inside are followed.
    assert_eq!(paths(&ctx.resolve("inside/file").unwrap()), ["dir/file"]);
    assert_eq!(paths(&ctx.resolve("dir/back").unwrap()), ["dir/file"]);
    assert_eq!(paths(&ctx.resolve("inside").unwrap()), ["dir"]);
    // Copying a directory copies its symlinks as they are, even those leading out.
    let d = ctx.digest(&["dir"]).unwrap();
    fs::remove_file(root.join("dir/up2")).unwrap();
    symlink("../../other", root.join("dir/up2")).unwrap();
    assert_ne!(ctx.digest(&["dir"]).unwrap(), d);
}

/// `source` does not resolve, and the error names it and says `reason`.
fn assert_refused(ctx: &Context, source: &str, reason: &str) {
    let e = ctx.resolve(source).unwrap_err().to_string();
    assert!(
        e.contains(&format!("source {source:?}")) && e.contains(reason),
        "{source}: {e}"
    );
}
