//! The Docker Engine API: the image routes (pull, load, save, build, push…), driven by real clients (see `common::api`).
//!
//! The registries here (Debian's docker-registry) run inside the service's network
//! namespace, on its loopback, where the service pulls from and pushes to them.

use std::fs;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use crate::common::api::ApiService;
use crate::common::registry::{basic_auth, Registry, PASSWORD, USER};
use crate::common::table_header;

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// The engine example on the service's root, in its network namespace (where the
/// containers' networks are): what the container routes will do once merged.
/// `docker images` (the CLI's columns and a template), `image inspect`, `history`,
/// `tag`, `rmi` (and its 409 while a container uses the image), `image prune`, and
/// Docker's 404 for a missing image.
#[test]
#[ignore = "requires root"]
fn images_are_listed_inspected_tagged_and_removed() {
    let api = ApiService::start();
    let table = api.ok(&["images"]);
    assert_eq!(
        table_header(&table),
        ["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"],
        "{table}"
    );
    let row: Vec<&str> = table.lines().nth(1).unwrap().split_whitespace().collect();
    assert_eq!(&row[..2], ["busybox", "latest"], "{table}");
    assert_eq!(row[2].len(), 12, "{table}");
    assert_eq!(
        api.ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"])
            .trim(),
        "busybox:latest"
    );

    let id = api.ok(&["image", "inspect", "-f", "{{.Id}}", "busybox"]);
    let id = id.trim();
    assert!(id.starts_with("sha256:") && id.len() == 71, "{id}");
    assert!(id[7..].starts_with(row[2]), "{id} {table}");
    let cmd = api.ok(&[
        "image",
        "inspect",
        "-f",
        "{{json .Config.Cmd}} {{.Os}}",
        "busybox",
    ]);
    assert_eq!(cmd.trim(), r#"["/bin/sh"] linux"#);
    let missing = api.run(&["image", "inspect", "nope:1"]);
    assert!(!missing.status.success());
    assert!(
        text(&missing).1.contains("No such image: nope:1"),
        "{}",
        text(&missing).1
    );
    let raw = api.curl(&["http://d/v1.44/images/nope/json"]);
    assert!(raw.starts_with("HTTP/1.1 404"), "{raw}");
    assert!(
        raw.ends_with(r#"{"message":"No such image: nope"}"#),
        "{raw}"
    );

    let hist = api.ok(&["history", "--format", "{{.ID}}|{{.CreatedBy}}", "busybox"]);
    let first = hist.lines().next().unwrap_or_default();
    assert!(first.starts_with(row[2]), "{hist}");

    api.ok(&["tag", "busybox:latest", "mine:1"]);
    let tags = api.ok(&["images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"]);
    assert!(tags.contains(&format!("mine:1 {}", row[2])), "{tags}");
    let filtered = api.ok(&[
        "images",
        "--filter",
        "reference=mi*",
        "--format",
        "{{.Repository}}:{{.Tag}}",
    ]);
    assert_eq!(filtered.trim(), "mine:1");
    let rmi = api.ok(&["rmi", "mine:1"]);
    assert_eq!(rmi.trim(), "Untagged: mine:1");
    assert_eq!(
        api.ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"])
            .trim(),
        "busybox:latest"
    );

    // a container made from busybox keeps its last tag without force
    let made = api.engine("create --name user busybox:latest true");
    assert!(made.status.success(), "{:?}", text(&made));
    let refused = api.run(&["rmi", "busybox:latest"]);
    assert!(!refused.status.success());
    let err = text(&refused).1;
    assert!(
        err.contains(r#"conflict: unable to remove repository reference "busybox:latest" (must force) - container"#)
            && err.contains(&format!("is using its referenced image {}", row[2])),
        "{err}"
    );
    let raw = api.curl(&["-X", "DELETE", "http://d/v1.44/images/busybox:latest"]);
    assert!(raw.starts_with("HTTP/1.1 409"), "{raw}");
    assert_eq!(
        api.ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"])
            .trim(),
        "busybox:latest"
    );
    // `docker commit` of that container, with a message and a change
    let committed = api.ok(&[
        "commit",
        "-m",
        "a message",
        "-c",
        r#"CMD ["echo", "committed"]"#,
        "user",
        "committed:1",
    ]);
    let committed = committed.trim();
    assert!(committed.starts_with("sha256:"), "{committed}");
    let shown = api.ok(&[
        "image",
        "inspect",
        "-f",
        "{{.Id}} {{json .Config.Cmd}} {{.Comment}}",
        "committed:1",
    ]);
    assert_eq!(
        shown.trim(),
        format!(r#"{committed} ["echo","committed"] a message"#)
    );
    let nobody = api.run(&["commit", "nobody", "x:1"]);
    assert!(
        text(&nobody).1.contains("No such container: nobody"),
        "{:?}",
        text(&nobody)
    );
    api.ok(&["rmi", "committed:1"]);
    let gone = api.engine("rm user");
    assert!(gone.status.success(), "{:?}", text(&gone));

    // nothing dangling: prune frees nothing and keeps busybox
    let pruned = api.ok(&["image", "prune", "-f"]);
    assert!(pruned.contains("Total reclaimed space: 0B"), "{pruned}");
    assert_eq!(
        api.ok(&["images", "-q"]).trim(),
        row[2],
        "prune removed a tagged image"
    );
    let removed = api.ok(&["rmi", "busybox"]);
    assert!(removed.contains("Untagged: busybox:latest"), "{removed}");
    assert!(removed.contains(&format!("Deleted: {id}")), "{removed}");
    assert_eq!(api.ok(&["images", "-q"]).trim(), "");
}

/// `docker save | docker load` round trip: saved, removed, loaded back with its tag and
/// id; garbage as an archive is a 400.
#[test]
#[ignore = "requires root"]
fn saved_images_load_back() {
    let api = ApiService::start();
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("busybox.tar");
    let id = api.ok(&["image", "inspect", "-f", "{{.Id}}", "busybox"]);
    api.ok(&["save", "-o", archive.to_str().unwrap(), "busybox:latest"]);
    let size = fs::metadata(&archive).unwrap().len();
    assert!(size > 100_000, "{size} bytes");
    let mut ar = tar::Archive::new(fs::File::open(&archive).unwrap());
    let names: Vec<String> = ar
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().display().to_string())
        .collect();
    assert!(names.iter().any(|n| n == "manifest.json"), "{names:?}");

    api.ok(&["rmi", "busybox:latest"]);
    assert_eq!(api.ok(&["images", "-q"]).trim(), "");
    let loaded = api.ok(&["load", "-i", archive.to_str().unwrap()]);
    assert_eq!(loaded.trim(), "Loaded image: busybox:latest");
    assert_eq!(
        api.ok(&["image", "inspect", "-f", "{{.Id}}", "busybox"]),
        id
    );

    // `docker image save` by the per-image route, through the other client
    let again = dir.path().join("again.tar");
    let out = api
        .client("/usr/bin/docker")
        .args(["save", "-o", again.to_str().unwrap(), "busybox"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{:?}", text(&out));
    assert!(fs::metadata(&again).unwrap().len() > 100_000);

    fs::write(dir.path().join("junk"), b"this is not a tar archive").unwrap();
    let bad = api.curl(&[
        "-X",
        "POST",
        "--data-binary",
        &format!("@{}", dir.path().join("junk").display()),
        "http://d/v1.44/images/load",
    ]);
    assert!(bad.starts_with("HTTP/1.1 400"), "{bad}");
    let filters = api.curl(&["http://d/v1.44/images/json?filters=nope"]);
    assert!(filters.starts_with("HTTP/1.1 400"), "{filters}");
    let unknown =
        api.curl(&["http://d/v1.44/images/json?filters=%7B%22color%22%3A%5B%22red%22%5D%7D"]);
    assert!(
        unknown.starts_with("HTTP/1.1 400") && unknown.contains("color"),
        "{unknown}"
    );
    let auth = api.curl(&[
        "-X",
        "POST",
        "-d",
        "{\"username\": 5}",
        "http://d/v1.44/auth",
    ]);
    assert!(auth.starts_with("HTTP/1.1 400"), "{auth}");
    let tag = api.post("http://d/v1.44/images/busybox/tag?repo=Bad%20Name");
    assert!(tag.starts_with("HTTP/1.1 400"), "{tag}");
    // an import of a root file system tarball (`docker import -`)
    let rootfs = dir.path().join("rootfs.tar");
    let mut ar = tar::Builder::new(fs::File::create(&rootfs).unwrap());
    let mut h = tar::Header::new_gnu();
    h.set_size(3);
    h.set_mode(0o644);
    h.set_cksum();
    ar.append_data(&mut h, "hello.txt", &b"hi\n"[..]).unwrap();
    ar.finish().unwrap();
    drop(ar);
    let mut c = api.docker();
    c.args(["import", "-", "imported:1"]);
    let imported = crate::common::output_with_stdin(&mut c, &fs::read(&rootfs).unwrap());
    assert!(imported.status.success(), "{:?}", text(&imported));
    let id = text(&imported).0;
    assert_eq!(
        api.ok(&["image", "inspect", "-f", "{{.Id}}", "imported:1"])
            .trim(),
        id.trim()
    );
}

/// `docker build` with the classic builder (the CLI 28 without buildx, with and without
/// `DOCKER_BUILDKIT=0`; Debian's 20.10 client): the steps and RUN's output streamed, the
/// image tagged and runnable; a failing RUN exits non-zero with Docker's words.
#[test]
#[ignore = "requires root"]
fn the_classic_builder_builds_a_dockerfile() {
    let api = ApiService::start();
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("Dockerfile"),
        "FROM busybox:latest\nRUN echo hi > /f && echo built-it\nCMD cat /f\n",
    )
    .unwrap();
    let out = api
        .docker()
        .env("DOCKER_BUILDKIT", "0")
        .args(["build", "-t", "x:1", dir.path().to_str().unwrap()])
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}\n{}", api.log());
    // the classic builder's lines: every instruction a step, RUN's container named
    let run_step = "Step 2/3 : RUN echo hi > /f && echo built-it\n ---> Running in ";
    assert!(
        stdout.contains("Step 1/3 : FROM busybox:latest\n") && stdout.contains(run_step),
        "{stdout}"
    );
    let at = stdout.find(run_step).unwrap() + run_step.len();
    let container = &stdout[at..at + 12];
    assert!(container.bytes().all(|b| b.is_ascii_hexdigit()), "{stdout}");
    assert!(
        stdout.contains(&format!(
            "\nbuilt-it\n ---> Removed intermediate container {container}\nStep 3/3 : CMD cat /f\n"
        )),
        "{stdout}"
    );
    assert!(stdout.contains("Successfully tagged x:1"), "{stdout}");
    let id = api.ok(&["image", "inspect", "-f", "{{.Id}}", "x:1"]);
    assert!(
        stdout.contains(&format!("Successfully built {}", &id.trim()[7..19])),
        "{stdout}"
    );
    let cmd = api.ok(&["image", "inspect", "-f", "{{json .Config.Cmd}}", "x:1"]);
    assert_eq!(cmd.trim(), r#"["/bin/sh","-c","cat /f"]"#);
    let ran = api.engine("run --rm --network none x:1");
    assert_eq!(text(&ran).0, "hi\n", "{:?}", text(&ran));

    // the CLI 28 without buildx falls back to the classic builder by itself; the cache
    // serves the RUN this time
    let out = api
        .docker()
        .env_remove("DOCKER_BUILDKIT")
        .args(["build", "-t", "x:2", dir.path().to_str().unwrap()])
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("Step 2/3 : RUN echo hi > /f && echo built-it\n ---> Using cache\n"),
        "{stdout}"
    );
    assert_eq!(api.ok(&["image", "inspect", "-f", "{{.Id}}", "x:2"]), id);
    let out = api
        .client("/usr/bin/docker")
        .args(["build", "-q", "-t", "x:3", dir.path().to_str().unwrap()])
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert_eq!(stdout.trim(), id.trim());

    fs::write(
        dir.path().join("Dockerfile"),
        "FROM busybox:latest\nRUN echo failing; exit 3\n",
    )
    .unwrap();
    let out = api
        .docker()
        .env("DOCKER_BUILDKIT", "0")
        .args(["build", "-t", "bad:1", dir.path().to_str().unwrap()])
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(3), "{stdout}\n{stderr}");
    assert!(stdout.contains("failing"), "{stdout}");
    assert!(
        stderr
            .contains("The command '/bin/sh -c echo failing; exit 3' returned a non-zero code: 3"),
        "{stderr}"
    );
    assert!(!api.run(&["image", "inspect", "bad:1"]).status.success());

    // what the builder cannot do is named; BuildKit's session is refused
    let refused = api.post("http://d/v1.44/build?memory=1000000");
    assert!(refused.starts_with("HTTP/1.1 400"), "{refused}");
    assert!(refused.contains("memory"), "{refused}");
    let session = api.post("http://d/v1.44/session");
    assert!(session.starts_with("HTTP/1.1 501"), "{session}");
    let outside = api.post("http://d/v1.44/build?dockerfile=../Dockerfile");
    assert!(outside.starts_with("HTTP/1.1 400"), "{outside}");
    let args = api.post("http://d/v1.44/build?buildargs=%5B1%5D");
    assert!(
        args.starts_with("HTTP/1.1 400") && args.contains("buildargs"),
        "{args}"
    );
    // a gzipped context, as `docker build` sends with --compress; the Dockerfile given by
    // name, its build arg and label applied
    let ctx = tempfile::tempdir().unwrap();
    fs::write(
        ctx.path().join("Build.df"),
        "FROM busybox:latest\nARG WHO\nRUN echo \"$WHO\" > /who\nCMD cat /who\n",
    )
    .unwrap();
    let tgz = dir.path().join("ctx.tgz");
    let made = Command::new("tar")
        .args([
            "-czf",
            tgz.to_str().unwrap(),
            "-C",
            ctx.path().to_str().unwrap(),
            ".",
        ])
        .status()
        .unwrap();
    assert!(made.success());
    let streamed = api.curl(&[
        "-X",
        "POST",
        "-H",
        "Content-Type: application/x-tar",
        "--data-binary",
        &format!("@{}", tgz.display()),
        "http://d/v1.44/build?t=gz:1&dockerfile=Build.df&buildargs=%7B%22WHO%22%3A%22me%22%7D&labels=%7B%22l%22%3A%22v%22%7D",
    ]);
    assert!(streamed.starts_with("HTTP/1.1 200"), "{streamed}");
    assert!(streamed.contains(r#"{"aux":{"ID":"sha256:"#), "{streamed}");
    let label = api.ok(&["image", "inspect", "-f", "{{.Config.Labels.l}}", "gz:1"]);
    assert_eq!(label.trim(), "v");
    let ran = api.engine("run --rm --network none gz:1");
    assert_eq!(text(&ran).0, "me\n", "{:?}", text(&ran));
    // a missing base image fails the build in its stream, naming the Dockerfile as given
    fs::write(dir.path().join("Dockerfile"), "FROM 127.0.0.1:9/none:1\n").unwrap();
    let out = api
        .docker()
        .env("DOCKER_BUILDKIT", "0")
        .args(["build", dir.path().to_str().unwrap()])
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("Dockerfile line 1") && !stderr.contains("cargohold-build"),
        "{stderr}"
    );
}

/// `docker push` and `docker pull` against a registry on the service's loopback: Docker's
/// progress lines, the image listed, pulled as pushed (the same digest); a missing
/// repository is Docker's 404.
#[test]
#[ignore = "requires root"]
fn images_are_pushed_to_and_pulled_from_a_registry() {
    let api = ApiService::start();
    let Some(reg) = Registry::start_in_netns(api.pid(), |_| String::new()) else {
        return;
    };
    let name = format!("{}/busybox:latest", reg.host());
    api.ok(&["tag", "busybox:latest", &name]);
    let pushed = api.ok(&["push", &name]);
    assert!(
        pushed.contains(&format!(
            "The push refers to repository [{}/busybox]",
            reg.host()
        )),
        "{pushed}"
    );
    assert!(pushed.contains(": Pushed"), "{pushed}");
    assert!(pushed.contains("latest: digest: sha256:"), "{pushed}");
    let digest = |out: &str, after: &str| {
        let at = out.find(after).unwrap_or_else(|| panic!("{out}")) + after.len();
        out[at..].split_whitespace().next().unwrap().to_owned()
    };
    let pushed_digest = digest(&pushed, "latest: digest: ");
    let repo_digest = format!("{}/busybox@{pushed_digest}", reg.host());
    // the push recorded the registry's digest
    let digests = api.ok(&["image", "inspect", "-f", "{{json .RepoDigests}}", &name]);
    assert_eq!(digests.trim(), format!(r#"["{repo_digest}"]"#));

    // distribution inspect: the manifest as the registry serves it, and its platform
    let raw = api.curl(&[&format!(
        "http://d/v1.44/distribution/{}/busybox:latest/json",
        reg.host()
    )]);
    assert!(raw.starts_with("HTTP/1.1 200"), "{raw}");
    let body: serde_json::Value =
        serde_json::from_str(raw.split("\n\n").nth(1).unwrap_or_default()).unwrap();
    assert_eq!(
        body["Descriptor"]["digest"],
        pushed_digest.as_str(),
        "{raw}"
    );
    assert!(
        body["Descriptor"]["size"].as_u64().unwrap_or(0) > 0,
        "{raw}"
    );
    assert!(
        body["Descriptor"]["mediaType"]
            .as_str()
            .is_some_and(|m| m.contains("manifest")),
        "{raw}"
    );
    assert_eq!(body["Platforms"][0]["os"], "linux", "{raw}");
    let unknown = api.curl(&[&format!(
        "http://d/v1.44/distribution/{}/busybox:nope/json",
        reg.host()
    )]);
    assert!(
        unknown.starts_with("HTTP/1.1 404") && unknown.contains("manifest unknown"),
        "{unknown}"
    );

    // search: the registry's catalog, by a part of the name
    let found = api.ok(&[
        "search",
        "--format",
        "{{.Name}} {{.StarCount}}",
        &format!("{}/bus", reg.host()),
    ]);
    assert_eq!(found.trim(), format!("{}/busybox 0", reg.host()));
    let none = api.ok(&["search", &format!("{}/nothing-like-it", reg.host())]);
    assert_eq!(none.lines().count(), 1, "only the header: {none}");
    let official = api.ok(&[
        "search",
        "--filter",
        "is-official=true",
        &format!("{}/bus", reg.host()),
    ]);
    assert_eq!(official.lines().count(), 1, "only the header: {official}");
    let bad = api.curl(&["http://d/v1.44/images/search?term=x&limit=0"]);
    assert!(bad.starts_with("HTTP/1.1 400"), "{bad}");
    // Docker Hub is out of reach: the connection error, not a refusal to search
    let hub = api.run(&["search", "busybox"]);
    assert!(!hub.status.success());
    let err = text(&hub).1;
    assert!(
        err.contains("index.docker.io") && !err.contains("not supported"),
        "{err}"
    );

    api.ok(&["rmi", &name]);
    api.ok(&["rmi", "busybox:latest"]);
    assert_eq!(api.ok(&["images", "-q"]).trim(), "");
    let pulled = api.ok(&["pull", &name]);
    assert!(pulled.contains("latest: Pulling from busybox"), "{pulled}");
    assert!(pulled.contains(": Pull complete"), "{pulled}");
    assert!(pulled.contains("Digest: sha256:"), "{pulled}");
    assert!(
        pulled.contains(&format!("Status: Downloaded newer image for {name}")),
        "{pulled}"
    );
    // the registry's digest of what was pushed is what was pulled, and recorded
    assert_eq!(digest(&pulled, "Digest: "), pushed_digest);
    let digests = api.ok(&["image", "inspect", "-f", "{{json .RepoDigests}}", &name]);
    assert_eq!(digests.trim(), format!(r#"["{repo_digest}"]"#));
    let listed = api.ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    assert_eq!(listed.trim(), name);
    let again = api.ok(&["pull", &name]);
    assert!(again.contains("Status: Image is up to date"), "{again}");
    // pulled by digest alone: no tag, the digest recorded
    api.ok(&["rmi", &name]);
    let by_digest = api.ok(&["pull", &repo_digest]);
    assert!(by_digest.contains("Downloaded newer image"), "{by_digest}");
    let shown = api.ok(&[
        "image",
        "inspect",
        "-f",
        "{{json .RepoTags}} {{json .RepoDigests}}",
        &repo_digest,
    ]);
    assert_eq!(shown.trim(), format!(r#"[] ["{repo_digest}"]"#));

    let missing = api.run(&["pull", &format!("{}/nope:1", reg.host())]);
    assert!(!missing.status.success());
    assert!(
        text(&missing).1.contains("not found"),
        "{:?}",
        text(&missing)
    );
    let raw = api.post(&format!(
        "http://d/v1.44/images/create?fromImage={}/nope&tag=1",
        reg.host()
    ));
    assert!(raw.starts_with("HTTP/1.1 404"), "{raw}");
    let unknown = api.run(&["push", &format!("{}/absent:1", reg.host())]);
    assert!(!unknown.status.success());
    assert!(
        text(&unknown)
            .1
            .contains("An image does not exist locally with the tag"),
        "{:?}",
        text(&unknown)
    );
}

/// `docker login` against a registry with basic auth (`POST /auth`): wrong credentials
/// are Docker's 401, right ones are stored by the CLI and sent with the push and pull
/// that follow (`X-Registry-Auth`), which fail without them.
#[test]
#[ignore = "requires root"]
fn login_checks_credentials_that_push_and_pull_then_use() {
    let api = ApiService::start();
    let Some(reg) = Registry::start_in_netns(api.pid(), basic_auth) else {
        return;
    };
    let name = format!("{}/team/busybox:1", reg.host());
    api.ok(&["tag", "busybox:latest", &name]);
    let denied = api.run(&["push", &name]);
    assert!(!denied.status.success(), "{:?}", text(&denied));

    let login = |password: &str| {
        let mut c = api.docker();
        c.args(["login", "-u", USER, "--password-stdin", &reg.host()]);
        crate::common::output_with_stdin(&mut c, password.as_bytes())
    };
    let bad = login("wrong");
    assert!(!bad.status.success());
    assert!(
        text(&bad).1.contains("401 Unauthorized"),
        "{:?}",
        text(&bad)
    );
    let good = login(PASSWORD);
    assert!(good.status.success(), "{:?}", text(&good));
    assert!(
        text(&good).0.contains("Login Succeeded"),
        "{:?}",
        text(&good)
    );

    let pushed = api.ok(&["push", &name]);
    assert!(pushed.contains("1: digest: sha256:"), "{pushed}");
    api.ok(&["rmi", &name]);
    let pulled = api.ok(&["pull", &name]);
    assert!(
        pulled.contains("Status: Downloaded newer image"),
        "{pulled}"
    );
}

/// `docker build -t` then `docker run --rm` of the image through the CLI: what RUN wrote,
/// the ENV, the ENTRYPOINT and CMD are what runs, its exit code comes back; `docker
/// history` lists the steps.
#[test]
#[ignore = "requires root"]
fn a_built_image_runs_and_shows_its_history() {
    let api = ApiService::start();
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("Dockerfile"),
        "FROM busybox:latest\n\
         ENV GREETING=hello\n\
         RUN echo written-by-run > /made\n\
         ENTRYPOINT [\"/bin/sh\", \"-c\"]\n\
         CMD [\"echo $GREETING; cat /made; exit 7\"]\n",
    )
    .unwrap();
    let built = api
        .docker()
        .env("DOCKER_BUILDKIT", "0")
        .args(["build", "-t", "made:1", dir.path().to_str().unwrap()])
        .output()
        .unwrap();
    let (stdout, stderr) = text(&built);
    assert!(built.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("Step 5/5 : CMD"), "{stdout}");

    let ran = api.run(&["run", "--rm", "made:1"]);
    assert_eq!(text(&ran).0, "hello\nwritten-by-run\n", "{:?}", text(&ran));
    assert_eq!(ran.status.code(), Some(7), "{:?}", text(&ran));
    // --rm: nothing left
    assert_eq!(api.ok(&["ps", "-aq"]).trim(), "");

    let history = api.ok(&[
        "history",
        "--no-trunc",
        "--format",
        "{{.CreatedBy}}",
        "made:1",
    ]);
    let steps: Vec<&str> = history.lines().collect();
    for (i, wanted) in [
        "CMD [\"echo $GREETING; cat /made; exit 7\"]",
        "ENTRYPOINT [\"/bin/sh\" \"-c\"]",
        "echo written-by-run > /made",
        "ENV GREETING=hello",
    ]
    .iter()
    .enumerate()
    {
        assert!(
            steps.get(i).is_some_and(|s| s.contains(wanted)),
            "{wanted:?} as entry {i} of\n{history}"
        );
    }
    assert!(steps.len() > 4, "busybox's own entries follow: {history}");
}

/// A client that goes away mid-build (curl's `--max-time`) stops it: the RUN's container
/// is killed and removed, and no image is made.
#[test]
#[ignore = "requires root"]
fn a_build_stops_when_its_client_goes_away() {
    let api = ApiService::start();
    let ctx = tempfile::tempdir().unwrap();
    fs::write(
        ctx.path().join("Dockerfile"),
        "FROM busybox:latest\nRUN echo started; sleep 600\nCMD true\n",
    )
    .unwrap();
    let tarball = tempfile::NamedTempFile::new().unwrap();
    crate::common::tar_create(ctx.path(), tarball.path());
    let images = api.ok(&["images", "-aq"]);
    let cut = api.curl(&[
        "--max-time",
        "3",
        "-X",
        "POST",
        "-H",
        "Content-Type: application/x-tar",
        "--data-binary",
        &format!("@{}", tarball.path().display()),
        "http://d/v1.44/build?t=never:1",
    ]);
    assert!(
        cut.starts_with("HTTP/1.1 200") && cut.contains("started"),
        "the RUN had started: {cut}"
    );
    // the build notices within a bounded wait: its container gone
    let containers = api.root.join("containers");
    let left = || {
        fs::read_dir(&containers)
            .map(|d| {
                d.flatten()
                    .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
                    .count()
            })
            .unwrap_or(0)
    };
    let start = Instant::now();
    while left() > 0 {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the build's container is still there: {}",
            api.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(api.ok(&["images", "-aq"]), images);
    let gone = api.run(&["image", "inspect", "never:1"]);
    assert!(!gone.status.success());
    // the service still builds
    fs::write(
        ctx.path().join("Dockerfile"),
        "FROM busybox:latest\nCMD true\n",
    )
    .unwrap();
    api.ok(&["build", "-q", "-t", "after:1", ctx.path().to_str().unwrap()]);
}
