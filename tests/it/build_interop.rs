//! Built images as the ecosystem reads them: skopeo and umoci read the layout, podman
//! imports it, a registry takes the push and skopeo reads it back there.

use std::fs;
use std::process::Command;

use cargohold::{BuildNetwork, PushOptions};

use crate::common::registry::Registry;
use crate::common::{self, run_tool, tool};

/// A Dockerfile that sets every part of the config Docker's extensions carry.
const DOCKERFILE: &str = "FROM {base}\n\
    RUN mkdir -p /srv && echo served > /srv/index.html\n\
    SHELL [\"/bin/sh\", \"-ec\"]\n\
    HEALTHCHECK --interval=5s --retries=2 CMD test -e /srv/index.html\n\
    ONBUILD RUN echo child\n\
    STOPSIGNAL SIGTERM\n\
    VOLUME /data\n\
    LABEL org.opencontainers.image.title=built\n\
    CMD [\"cat\", \"/srv/index.html\"]\n";

#[test]
#[ignore = "requires root"]
fn skopeo_umoci_podman_and_a_registry_read_a_built_image() {
    if !(tool("skopeo") && tool("umoci")) {
        eprintln!("skipping: no skopeo or umoci");
        return;
    }
    let e = common::busybox().engine("cargohold-build-interop");
    let ctx = tempfile::tempdir().unwrap();
    let img = e
        .engine
        .build(ctx.path())
        .dockerfile_content(DOCKERFILE.replace("{base}", &e.reference))
        .tag("localhost/built:1")
        .network(BuildNetwork::None)
        .run()
        .unwrap();
    let layout = e.engine.images().layout_dir().display().to_string();
    let src = format!("oci:{layout}:localhost/built:1");

    // --raw: without it skopeo re-encodes the config as the OCI spec has it, without
    // Docker's extensions.
    let cfg = run_tool(Command::new("skopeo").args(["inspect", "--config", "--raw", &src]));
    let cfg: serde_json::Value = serde_json::from_str(&cfg).unwrap();
    let c = &cfg["config"];
    assert_eq!(c["Healthcheck"]["Test"][0], "CMD-SHELL", "{cfg}");
    assert_eq!(c["Healthcheck"]["Interval"], 5_000_000_000u64);
    assert_eq!(c["OnBuild"][0], "RUN echo child");
    assert_eq!(c["Shell"][1], "-ec");
    assert_eq!(c["StopSignal"], "SIGTERM");
    assert!(c["Volumes"].get("/data").is_some(), "{cfg}");
    assert_eq!(c["Labels"]["org.opencontainers.image.title"], "built");
    let history = cfg["history"].as_array().unwrap();
    assert!(history.iter().any(|h| h["created_by"]
        == "RUN /bin/sh -c mkdir -p /srv && echo served > /srv/index.html # buildkit"));
    assert_eq!(cfg["rootfs"]["diff_ids"].as_array().unwrap().len(), 2);

    let unpacked = tempfile::tempdir().unwrap();
    let bundle = unpacked.path().join("bundle");
    run_tool(Command::new("umoci").args([
        "unpack",
        "--image",
        &format!("{layout}:localhost/built:1"),
        bundle.to_str().unwrap(),
    ]));
    assert_eq!(
        fs::read_to_string(bundle.join("rootfs/srv/index.html")).unwrap(),
        "served\n"
    );

    if tool("podman") {
        let storage = tempfile::tempdir().unwrap();
        let podman = |args: &[&str]| {
            let mut c = Command::new("podman");
            c.arg("--root")
                .arg(storage.path().join("root"))
                .arg("--runroot")
                .arg(storage.path().join("run"))
                .args(["--storage-driver", "vfs"])
                .args(args);
            run_tool(&mut c)
        };
        // podman names what it pulls from an OCI layout after the layout's path; skopeo
        // puts it in podman's storage under the right name.
        run_tool(Command::new("skopeo").args([
            "copy",
            "-q",
            &src,
            &format!(
                "containers-storage:[vfs@{}+{}]localhost/built:1",
                storage.path().join("root").display(),
                storage.path().join("run").display()
            ),
        ]));
        let inspect = podman(&["image", "inspect", "localhost/built:1"]);
        let v: serde_json::Value = serde_json::from_str(&inspect).unwrap();
        assert_eq!(v[0]["Id"], img.id().digest().to_string(), "{inspect}");
        assert_eq!(v[0]["Config"]["StopSignal"], "SIGTERM");
    }

    if let Some(reg) = Registry::start() {
        let target = reg.reference("built:1");
        e.engine
            .images()
            .tag(&"localhost/built:1".parse().unwrap(), &target)
            .unwrap();
        e.engine
            .push_with(&target.to_string(), &PushOptions::new(), &|_| {})
            .unwrap();
        let remote = run_tool(Command::new("skopeo").args([
            "inspect",
            "--tls-verify=false",
            "--config",
            "--raw",
            &format!("docker://{target}"),
        ]));
        let remote: serde_json::Value = serde_json::from_str(&remote).unwrap();
        assert_eq!(remote["config"]["OnBuild"][0], "RUN echo child");
    }
}
