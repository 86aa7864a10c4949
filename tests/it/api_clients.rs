//! The Docker Engine API (issue 16) driven by the ecosystem's clients: bollard and
//! testcontainers (Rust), docker-compose 1.29 (Python, docker-py), and a Ryuk-style reaper
//! (a container with the API socket mounted removing labelled containers).

use std::time::Duration;

use crate::common::api::ApiService;

/// Runs `f` on a thread in the service's network namespace (its published ports are on
/// that namespace's loopback).
fn in_service_netns<T: Send>(api: &ApiService, f: impl FnOnce() -> T + Send) -> T {
    cargohold::sys::netns::in_netns_of(api.pid() as i32, f)
        .expect("entering the service's namespace")
}

/// bollard, the async Rust client: version, images, a container created, started,
/// waited for, its logs read, removed.
#[test]
#[ignore = "requires root"]
fn bollard_drives_a_container() {
    use bollard::models::ContainerCreateBody;
    use bollard::query_parameters::{
        CreateContainerOptionsBuilder, InspectContainerOptions, ListImagesOptions,
        LogsOptionsBuilder, RemoveContainerOptions, StartContainerOptions,
        WaitContainerOptionsBuilder,
    };
    use bollard::Docker;
    use futures_util::StreamExt as _;
    let api = ApiService::start();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let docker =
            Docker::connect_with_unix(api.sock.to_str().unwrap(), 60, bollard::API_DEFAULT_VERSION)
                .unwrap();
        let v = docker.version().await.unwrap();
        assert_eq!(v.api_version.as_deref(), Some("1.44"));
        let images = docker.list_images(None::<ListImagesOptions>).await.unwrap();
        assert!(
            images
                .iter()
                .any(|i| i.repo_tags.contains(&"busybox:latest".to_owned())),
            "{images:?}"
        );
        let created = docker
            .create_container(
                Some(
                    CreateContainerOptionsBuilder::default()
                        .name("bollard-1")
                        .build(),
                ),
                ContainerCreateBody {
                    image: Some("busybox:latest".into()),
                    cmd: Some(
                        ["sh", "-c", "echo from-bollard; echo to-stderr >&2; exit 7"]
                            .map(String::from)
                            .to_vec(),
                    ),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        docker
            .start_container(&created.id, None::<StartContainerOptions>)
            .await
            .unwrap();
        let mut wait = docker.wait_container(
            &created.id,
            Some(
                WaitContainerOptionsBuilder::default()
                    .condition("not-running")
                    .build(),
            ),
        );
        // bollard reports a non-zero exit as an error carrying the code
        let code = match wait.next().await.unwrap() {
            Ok(r) => r.status_code,
            Err(bollard::errors::Error::DockerContainerWaitError { code, .. }) => code,
            Err(e) => panic!("wait: {e}"),
        };
        assert_eq!(code, 7);
        let mut logs = docker.logs(
            &created.id,
            Some(
                LogsOptionsBuilder::default()
                    .stdout(true)
                    .stderr(true)
                    .build(),
            ),
        );
        let mut out = String::new();
        let mut err = String::new();
        while let Some(l) = logs.next().await {
            match l.unwrap() {
                bollard::container::LogOutput::StdOut { message } => {
                    out.push_str(&String::from_utf8_lossy(&message))
                }
                bollard::container::LogOutput::StdErr { message } => {
                    err.push_str(&String::from_utf8_lossy(&message))
                }
                _ => {}
            }
        }
        assert_eq!(
            (out.as_str(), err.as_str()),
            ("from-bollard\n", "to-stderr\n")
        );
        docker
            .remove_container(&created.id, None::<RemoveContainerOptions>)
            .await
            .unwrap();
        let gone = docker
            .inspect_container(&created.id, None::<InspectContainerOptions>)
            .await;
        assert!(
            matches!(
                gone,
                Err(bollard::errors::Error::DockerResponseServerError {
                    status_code: 404,
                    ..
                })
            ),
            "{gone:?}"
        );
    });
}

/// testcontainers (blocking): a `GenericImage` of busybox's httpd waited for by a log
/// line, its published port fetched, an exec, and the container removed when the handle
/// drops.
#[test]
#[ignore = "requires root"]
fn testcontainers_runs_a_generic_image() {
    use testcontainers::core::{ExecCommand, IntoContainerPort, WaitFor};
    use testcontainers::runners::SyncRunner;
    use testcontainers::{GenericImage, ImageExt};
    let api = ApiService::start();
    // testcontainers reads the host from the environment; no Ryuk (its image would be
    // pulled from the internet)
    std::env::set_var("DOCKER_HOST", format!("unix://{}", api.sock.display()));
    std::env::set_var("TESTCONTAINERS_RYUK_DISABLED", "true");
    let id = in_service_netns(&api, || {
        let c = GenericImage::new("busybox", "latest")
            .with_exposed_port(80.tcp())
            .with_wait_for(WaitFor::message_on_stdout("serving"))
            .with_cmd(["sh", "-c", "echo serving; exec httpd -f -p 80 -h /www"])
            .with_label("suite", "cargohold")
            .start()
            .expect("starting the container");
        let port = c.get_host_port_ipv4(80.tcp()).unwrap();
        let page = std::process::Command::new("busybox")
            .args([
                "wget",
                "-qO-",
                &format!("http://127.0.0.1:{port}/index.html"),
            ])
            .output()
            .unwrap();
        assert!(!page.stdout.is_empty(), "{page:?}");
        let mut exec = c
            .exec(ExecCommand::new(["cat", "/www/index.html"]))
            .unwrap();
        let out = exec.stdout_to_vec().unwrap();
        assert_eq!(out, page.stdout);
        c.id().to_owned()
        // dropped: removed
    });
    std::thread::sleep(Duration::from_millis(200));
    let left = api.run(&["inspect", &id]);
    assert!(!left.status.success(), "the container outlived its handle");
}

/// docker-compose 1.29 (Python, docker-py) brings a two-service app up — the client
/// reaches the web service by name, the web page is published — and down.
#[test]
#[ignore = "requires root"]
fn docker_compose_brings_an_app_up_and_down() {
    let api = ApiService::start();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("docker-compose.yml"),
        "version: '3'\nservices:\n  web:\n    image: busybox:latest\n    \
         command: busybox httpd -f -p 80 -h /www\n    ports: ['127.0.0.1:18085:80']\n  \
         client:\n    image: busybox:latest\n    depends_on: [web]\n    \
         command: sh -c 'for i in $$(seq 50); do wget -qO- http://web/index.html && break; sleep 0.2; done; sleep 300'\n",
    )
    .unwrap();
    let compose = |args: &[&str]| {
        let mut c = std::process::Command::new("docker-compose");
        c.current_dir(dir.path())
            .env("DOCKER_HOST", format!("unix://{}", api.sock.display()))
            .args(["-p", "capi"])
            .args(args);
        crate::common::output_via_files(&mut c)
    };
    let up = compose(&["up", "-d"]);
    assert!(up.status.success(), "{up:?}\n{}", api.log());
    let page = api.in_netns(
        "for i in $(seq 50); do busybox wget -qO- http://127.0.0.1:18085/index.html && break; sleep 0.2; done",
    );
    assert!(!page.stdout.is_empty(), "{page:?}");
    let mut logs = String::new();
    for _ in 0..50 {
        logs = String::from_utf8_lossy(&compose(&["logs", "client"]).stdout).into_owned();
        if logs.contains("html") || logs.contains("HTML") {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(!logs.is_empty(), "the client's logs: {logs}");
    let ps = api.ok(&["ps", "--format", "{{.Names}}"]);
    assert!(
        ps.contains("capi_web_1") && ps.contains("capi_client_1"),
        "{ps}"
    );
    let down = compose(&["down"]);
    assert!(down.status.success(), "{down:?}");
    assert_eq!(api.ok(&["ps", "-aq"]), "");
    assert!(!api.ok(&["network", "ls"]).contains("capi_default"));
}

/// A Ryuk-style reaper: a container with the API socket (and a static docker client)
/// mounted removes the containers of a session by label, as testcontainers' Ryuk does.
#[test]
#[ignore = "requires root"]
fn a_container_with_the_socket_reaps_labelled_containers() {
    let api = ApiService::start();
    for n in ["a", "b"] {
        api.ok(&[
            "run",
            "-d",
            "--name",
            &format!("sess-{n}"),
            "--label",
            "org.testcontainers.session-id=s1",
            "busybox:latest",
            "sleep",
            "300",
        ]);
    }
    api.ok(&[
        "run",
        "-d",
        "--name",
        "keep",
        "busybox:latest",
        "sleep",
        "300",
    ]);
    let sock = format!("{}:/var/run/docker.sock", api.sock.display());
    let out = api.ok(&[
        "run",
        "--rm",
        "-v",
        &sock,
        "-v",
        "/usr/local/bin/docker:/docker:ro",
        "busybox:latest",
        "sh",
        "-c",
        "/docker rm -f $(/docker ps -aq --filter label=org.testcontainers.session-id=s1) | wc -l",
    ]);
    assert_eq!(out.trim(), "2");
    let left = api.ok(&["ps", "-a", "--format", "{{.Names}}"]);
    assert_eq!(left.trim(), "keep");
}
