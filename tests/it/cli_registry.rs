//! `engine login`/`logout`/`search`, pulls on demand in `run`/`create`, and the library's
//! `DockerConfig`, `Registry` and `Engine::image_or_pull`, against Debian's docker-registry
//! on 127.0.0.1 with basic auth (an htpasswd file, bcrypt-hashed here).
//!
//! The CLI runs in the host's network namespace (the registry is on its loopback), so every
//! container here is `--network none`: nothing touches the host's interfaces or firewall.
//! Each test has its own `DOCKER_CONFIG` directory, passed to the CLI's environment.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::Mutex;

use base64::Engine as _;
use cargohold::{Credentials, DockerConfig, Error, Progress, PullOptions, Registry};

use crate::common::registry::{basic_auth, Registry as TestRegistry, PASSWORD, USER};

use crate::common;

/// A docker-registry that wants `USER`/`PASSWORD` (basic auth from an htpasswd file).
pub(crate) struct AuthRegistry(TestRegistry);

impl AuthRegistry {
    pub(crate) fn start() -> Option<AuthRegistry> {
        TestRegistry::start_with(basic_auth).map(AuthRegistry)
    }

    pub(crate) fn host(&self) -> String {
        self.0.host()
    }

    pub(crate) fn reference(&self, name: &str) -> String {
        format!("{}/{name}", self.host())
    }
}

/// The engine CLI with its own root, docker config directory and `PATH` (with a directory
/// for fake credential helpers first).
struct Cli {
    root: tempfile::TempDir,
    docker_config: tempfile::TempDir,
    helpers: tempfile::TempDir,
}

impl Cli {
    fn new() -> Cli {
        Cli {
            root: tempfile::Builder::new()
                .prefix("cargohold-cli-registry")
                .tempdir()
                .unwrap(),
            docker_config: tempfile::tempdir().unwrap(),
            helpers: tempfile::tempdir().unwrap(),
        }
    }

    fn config_path(&self) -> PathBuf {
        self.docker_config.path().join("config.json")
    }

    fn config(&self) -> serde_json::Value {
        serde_json::from_slice(&fs::read(self.config_path()).unwrap()).unwrap()
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(common::example_bin("engine"));
        let path = format!(
            "{}:{}",
            self.helpers.path().display(),
            std::env::var("PATH").unwrap_or_default()
        );
        c.arg("--root")
            .arg(self.root.path())
            .args(args)
            .env("DOCKER_CONFIG", self.docker_config.path())
            .env("PATH", path);
        c
    }

    fn out(&self, args: &[&str]) -> Output {
        common::output_via_files(self.command(args).stdin(Stdio::null()))
    }

    /// Runs with `input` on stdin.
    fn out_with_stdin(&self, args: &[&str], input: &str) -> Output {
        common::output_with_stdin(&mut self.command(args), input.as_bytes())
    }

    fn ok(&self, args: &[&str]) -> (String, String) {
        let o = self.out(args);
        let (out, err) = texts(&o);
        assert!(o.status.success(), "engine {args:?}: {out}\n{err}");
        (out, err)
    }

    fn fails(&self, args: &[&str]) -> String {
        let o = self.out(args);
        let (out, err) = texts(&o);
        assert!(!o.status.success(), "engine {args:?} succeeded: {out}");
        err
    }

    fn login(&self, reg: &AuthRegistry) -> Output {
        self.out_with_stdin(
            &["login", "-u", USER, "--password-stdin", &reg.host()],
            &format!("{PASSWORD}\n"),
        )
    }

    /// Imports a busybox rootfs as `reference`.
    fn import(&self, reference: &str) {
        let rootfs = common::minimal_busybox_dir();
        let dir = tempfile::tempdir().unwrap();
        let tarball = dir.path().join("busybox.tar");
        common::tar_create(rootfs.path(), &tarball);
        self.ok(&["import", tarball.to_str().unwrap(), reference]);
    }
}

fn texts(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn basic(user: &str, password: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
}

#[test]
#[ignore = "requires root"]
fn login_stores_credentials_that_push_and_pull_use_and_logout_forgets() {
    let Some(reg) = AuthRegistry::start() else {
        return;
    };
    let cli = Cli::new();
    let image = reg.reference("course/busybox:1");
    cli.import(&image);

    // not logged in: refused, and told how to log in
    let err = cli.fails(&["push", &image]);
    assert!(
        err.contains(&format!("engine login {}", reg.host())) && err.contains("docker login"),
        "{err}"
    );

    // a wrong password: Docker's message, nothing stored
    let o = cli.out_with_stdin(
        &["login", "-u", USER, "--password-stdin", &reg.host()],
        "wrong\n",
    );
    let (out, err) = texts(&o);
    assert!(!o.status.success(), "{out}");
    assert!(
        err.contains("failed with status: 401 Unauthorized"),
        "{err}"
    );
    assert!(!out.contains("Login Succeeded"));
    assert!(!cli.config_path().exists(), "nothing written");
    // --password-stdin needs a user name, as Docker says
    let err = cli.fails(&["login", "--password-stdin", &reg.host()]);
    assert!(
        err.contains("Must provide --username with --password-stdin"),
        "{err}"
    );

    // the right one: stored as Docker stores it
    let o = cli.login(&reg);
    let (out, err) = texts(&o);
    assert!(o.status.success(), "{out}{err}");
    assert_eq!(out.trim(), "Login Succeeded");
    assert!(err.contains("stored unencrypted"), "{err}");
    assert_eq!(
        cli.config()["auths"][reg.host()]["auth"],
        basic(USER, PASSWORD)
    );
    let mode = fs::metadata(cli.config_path())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    // -p works too, with Docker's warning
    let (_, err) = cli.ok(&["login", "-u", USER, "-p", PASSWORD, &reg.host()]);
    assert!(
        err.contains("Using --password via the CLI is insecure"),
        "{err}"
    );

    // push and pull use the stored credentials; plain lines when not on a terminal
    let (out, _) = cli.ok(&["push", &image]);
    assert!(
        out.starts_with(&format!(
            "The push refers to repository [{}]",
            reg.reference("course/busybox")
        )),
        "{out}"
    );
    assert!(out.contains(": Pushed"), "{out}");
    assert!(out.contains("1: digest: sha256:"), "{out}");
    // Docker's size is the manifest's, in bytes
    let last = out.lines().last().unwrap_or_default();
    let size: u64 = last
        .rsplit_once(" size: ")
        .and_then(|(_, n)| n.parse().ok())
        .unwrap_or_else(|| panic!("no size: {last}"));
    assert!((200..4096).contains(&size), "{last}");
    assert!(!out.contains('\r') && !out.contains("[="), "no bars: {out}");
    cli.ok(&["rmi", &image]);
    let (out, _) = cli.ok(&["pull", &image]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "1: Pulling from course/busybox", "{out}");
    assert!(
        lines.iter().any(|l| l.ends_with(": Pulling fs layer")),
        "{out}"
    );
    assert!(
        lines.iter().any(|l| l.ends_with(": Pull complete")),
        "{out}"
    );
    assert!(
        lines[lines.len() - 3].starts_with("Digest: sha256:"),
        "{out}"
    );
    assert_eq!(
        lines[lines.len() - 2],
        format!("Status: Downloaded newer image for {image}")
    );
    assert_eq!(lines[lines.len() - 1], image);
    // again: nothing moves
    let (out, _) = cli.ok(&["pull", &image]);
    assert!(out.contains("Already exists"), "{out}");
    assert!(
        out.contains(&format!("Status: Image is up to date for {image}")),
        "{out}"
    );

    // logout: the entry goes, pulls are refused again
    let (out, _) = cli.ok(&["logout", &reg.host()]);
    assert_eq!(
        out.trim(),
        format!("Removing login credentials for {}", reg.host())
    );
    assert!(
        cli.config()["auths"].get(reg.host()).is_none(),
        "{}",
        cli.config()
    );
    let (out, _) = cli.ok(&["logout", &reg.host()]);
    assert_eq!(out.trim(), format!("Not logged in to {}", reg.host()));
    cli.ok(&["rmi", &image]);
    let err = cli.fails(&["pull", &image]);
    assert!(
        err.contains("unauthorized") && err.contains("engine login"),
        "{err}"
    );
}

/// A fake `docker-credential-test`: keeps one secret in a file, logs each action and its
/// stdin, answers `get` as the real helpers do.
const HELPER: &str = r#"#!/bin/sh
dir="$(dirname "$0")"
input="$(cat)"
printf '%s %s\n' "$1" "$input" >> "$dir/log"
case "$1" in
store) printf '%s' "$input" > "$dir/secret" ;;
get)
    if [ -f "$dir/secret" ] && grep -q "\"ServerURL\":\"$input\"" "$dir/secret"; then
        cat "$dir/secret"
    else
        echo "credentials not found in native keychain"; exit 1
    fi ;;
erase) rm -f "$dir/secret" ;;
*) exit 2 ;;
esac
"#;

#[test]
#[ignore = "requires root"]
fn a_credential_helper_named_by_creds_store_keeps_the_secret() {
    let Some(reg) = AuthRegistry::start() else {
        return;
    };
    let cli = Cli::new();
    let helper = cli.helpers.path().join("docker-credential-test");
    fs::write(&helper, HELPER).unwrap();
    fs::set_permissions(&helper, fs::Permissions::from_mode(0o755)).unwrap();
    fs::write(cli.config_path(), r#"{"credsStore":"test","psFormat":"x"}"#).unwrap();
    let log = || fs::read_to_string(cli.helpers.path().join("log")).unwrap_or_default();

    let o = cli.login(&reg);
    let (out, err) = texts(&o);
    assert!(o.status.success(), "{out}{err}");
    assert!(!err.contains("unencrypted"), "a helper: no warning: {err}");
    let stored: serde_json::Value =
        serde_json::from_slice(&fs::read(cli.helpers.path().join("secret")).unwrap()).unwrap();
    assert_eq!(
        stored,
        serde_json::json!({"ServerURL": reg.host(), "Username": USER, "Secret": PASSWORD})
    );
    let config = cli.config();
    assert_eq!(
        config["auths"][reg.host()],
        serde_json::json!({}),
        "{config}"
    );
    assert_eq!(config["credsStore"], "test");
    assert_eq!(config["psFormat"], "x", "other settings kept");

    // a push gets them from the helper
    let image = reg.reference("helped/busybox:1");
    cli.import(&image);
    cli.ok(&["push", &image]);
    assert!(log().contains(&format!("get {}", reg.host())), "{}", log());

    cli.ok(&["logout", &reg.host()]);
    assert!(
        log().contains(&format!("erase {}", reg.host())),
        "{}",
        log()
    );
    assert!(!cli.helpers.path().join("secret").exists());
    assert!(cli.config()["auths"].get(reg.host()).is_none());
}

#[test]
#[ignore = "requires root"]
fn search_lists_the_catalog_with_tags() {
    let Some(reg) = AuthRegistry::start() else {
        return;
    };
    let cli = Cli::new();
    assert!(cli.login(&reg).status.success());
    for r in ["course/busybox:1", "course/busybox:2", "other/thing:1"] {
        let image = reg.reference(r);
        cli.import(&image);
        cli.ok(&["push", &image]);
    }
    let (out, _) = cli.ok(&["search", &format!("{}/busy", reg.host())]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    let header: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(header, ["NAME", "DESCRIPTION", "STARS", "OFFICIAL"]);
    let row: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(
        row,
        [&reg.reference("course/busybox"), "tags:", "1,", "2", "0"],
        "{out}"
    );
    // everything, limited, formatted
    let (out, _) = cli.ok(&[
        "search",
        "--format",
        "{{.Name}}",
        &format!("{}/", reg.host()),
    ]);
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        [
            reg.reference("course/busybox"),
            reg.reference("other/thing")
        ]
    );
    let (out, _) = cli.ok(&[
        "search",
        "--limit",
        "1",
        "--format",
        "table {{.Name}}\t{{.StarCount}}",
        &format!("{}/", reg.host()),
    ]);
    // `table` aligns the columns, as Docker's tabwriter does.
    let cells: Vec<Vec<&str>> = out
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    let name = reg.reference("course/busybox").to_string();
    assert_eq!(
        cells,
        [vec!["NAME", "STARS"], vec![name.as_str(), "0"]],
        "{out}"
    );
    // Docker Hub has no catalog: a hint instead
    let err = cli.fails(&["search", "busybox"]);
    assert!(err.contains("HOST:PORT/busybox"), "{err}");
    // without credentials the catalog is refused
    cli.ok(&["logout", &reg.host()]);
    let err = cli.fails(&["search", &format!("{}/busy", reg.host())]);
    assert!(err.contains("unauthorized"), "{err}");
}

#[test]
#[ignore = "requires root"]
fn run_and_create_pull_a_missing_image_as_pull_says() {
    let Some(reg) = AuthRegistry::start() else {
        return;
    };
    let cli = Cli::new();
    assert!(cli.login(&reg).status.success());
    let image = reg.reference("course/busybox:run");
    cli.import(&image);
    cli.ok(&["push", &image]);
    cli.ok(&["rmi", &image]);

    // never: a missing image is an error, nothing pulled
    let err = cli.fails(&[
        "run",
        "--rm",
        "--network",
        "none",
        "--pull",
        "never",
        &image,
        "true",
    ]);
    assert!(err.contains("not found"), "{err}");
    assert!(!err.contains("Pulling from"), "{err}");

    // missing (the default): Docker's line and the pull on stderr, the output on stdout
    let (out, err) = cli.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        &image,
        "sh",
        "-c",
        "echo hi",
    ]);
    assert_eq!(out, "hi\n");
    assert!(
        err.starts_with(&format!("Unable to find image '{image}' locally\n")),
        "{err}"
    );
    assert!(err.contains("run: Pulling from course/busybox"), "{err}");
    assert!(
        err.contains(&format!("Status: Downloaded newer image for {image}")),
        "{err}"
    );
    // there now: no registry asked
    let (_, err) = cli.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        &image,
        "sh",
        "-c",
        "true",
    ]);
    assert_eq!(err, "");

    // always: pulled even though it is there (up to date), for create too
    let (out, err) = cli.ok(&[
        "create",
        "--network",
        "none",
        "--pull",
        "always",
        "--name",
        "pulled",
        &image,
        "sh",
    ]);
    assert_eq!(out.trim().len(), 64, "an id: {out}");
    assert!(
        err.contains(&format!("Status: Image is up to date for {image}")),
        "{err}"
    );
    cli.ok(&["rm", "pulled"]);
    let err = cli.fails(&["run", "--pull", "sometimes", &image, "true"]);
    assert!(err.contains("sometimes"), "{err}");
}

#[test]
#[ignore = "requires root"]
fn the_library_logs_in_stores_and_pulls_on_demand() {
    let Some(reg) = AuthRegistry::start() else {
        return;
    };
    // the login check
    let mut registry = Registry::new(&format!("http://{}", reg.host()));
    let e = registry.credentials(USER, "nope").login().unwrap_err();
    assert!(
        matches!(&e, Error::Registry { reason, .. } if reason.contains("401")),
        "{e}"
    );
    registry.credentials(USER, PASSWORD).login().unwrap();
    // docker's config, through the library
    let dir = tempfile::tempdir().unwrap();
    let config = DockerConfig::open(dir.path());
    let creds = Credentials::new(USER, PASSWORD);
    config.store(&reg.host(), &creds).unwrap();
    assert_eq!(config.get(&reg.host()).unwrap(), Some(creds));

    // image_or_pull: pushed from one root, pulled on demand into another
    let (_a, a) = common::temp_engine("orpull-a");
    let reference = reg.reference("lib/busybox:1");
    common::busybox().import(&a, &reference);
    let mut push = cargohold::PushOptions::new();
    push.credentials(USER, PASSWORD);
    a.push_with(&reference, &push, &|_| {}).unwrap();
    assert_eq!(registry.catalog().unwrap(), ["lib/busybox"]);
    assert_eq!(registry.tags("lib/busybox").unwrap(), ["1"]);

    let (_b, b) = common::temp_engine("orpull-b");
    let mut pull = PullOptions::new();
    pull.credentials(USER, PASSWORD);
    let events = Mutex::new(Vec::new());
    let record = |p: &Progress| events.lock().unwrap().push(p.clone());
    let img = b.image_or_pull_with(&reference, &pull, &record).unwrap();
    assert_eq!(img.id(), a.image(&reference).unwrap().id());
    assert!(events
        .lock()
        .unwrap()
        .iter()
        .any(|e| matches!(e, Progress::LayerDone { .. })));
    events.lock().unwrap().clear();
    // there now: no registry asked (the wrong password would fail)
    let mut wrong = PullOptions::new();
    wrong.credentials(USER, "nope");
    let again = b.image_or_pull_with(&reference, &wrong, &record).unwrap();
    assert_eq!(again.id(), img.id());
    assert!(events.lock().unwrap().is_empty());
    // what is not a reference is not pulled
    let e = b.image_or_pull("Not/A/Reference").map(|_| ()).unwrap_err();
    assert!(matches!(e, Error::InvalidReference { .. }), "{e}");
}

#[test]
#[ignore = "requires root"]
fn pull_and_push_draw_bars_on_a_terminal() {
    let Some(reg) = AuthRegistry::start() else {
        return;
    };
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("skipping: no script(1) for a pty");
        return;
    }
    let cli = Cli::new();
    assert!(cli.login(&reg).status.success());
    let image = reg.reference("tty/busybox:1");
    cli.import(&image);
    // through a pty: `script` runs the command on a terminal of its own
    let on_a_terminal = |args: &[&str]| {
        let cmd = cli.command(args);
        let line: Vec<String> = std::iter::once(cmd.get_program())
            .chain(cmd.get_args())
            .map(|a| format!("'{}'", a.to_string_lossy()))
            .collect();
        let mut script = Command::new("script");
        script
            .args(["-qec", &line.join(" "), "/dev/null"])
            .envs(cmd.get_envs().filter_map(|(k, v)| Some((k, v?))))
            .stdin(Stdio::null());
        let o = common::output_via_files(&mut script);
        let (out, err) = texts(&o);
        assert!(o.status.success(), "{out}{err}");
        out
    };
    let out = on_a_terminal(&["push", &image]);
    assert!(out.contains("\x1b[2K"), "drawn by indicatif: {out:?}");
    assert!(out.contains(": Pushed"), "{out:?}");
    cli.ok(&["rmi", &image]);
    let out = on_a_terminal(&["pull", &image]);
    assert!(out.contains("\x1b[2K"), "{out:?}");
    assert!(out.contains(": Pull complete"), "{out:?}");
    assert!(
        !out.contains("Download complete"),
        "plain lines only off a terminal"
    );
    assert!(out.contains(&format!("Status: Downloaded newer image for {image}")));
}
