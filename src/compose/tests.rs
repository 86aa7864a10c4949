//! Loading projects from files: syntaxes, merges, environment, names, profiles, errors,
//! order, hashes, the builder and `to_yaml`.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use super::*;
use crate::Error;

/// A project directory with files.
struct Dir(tempfile::TempDir);

impl Dir {
    fn new(files: &[(&str, &str)]) -> Dir {
        let d = tempfile::Builder::new().prefix("myapp").tempdir().unwrap();
        for (name, text) in files {
            let p = d.path().join(name);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        Dir(d)
    }
    fn path(&self) -> &Path {
        self.0.path()
    }
    /// Options for this directory with a fixed environment.
    fn opts(&self, env: &[(&str, &str)]) -> ProjectOptions {
        let mut o = ProjectOptions::new();
        o.project_directory(self.path())
            .environment(env.iter().map(|(k, v)| (k.to_string(), v.to_string())))
            .project_name("app");
        o
    }
    fn load(&self, env: &[(&str, &str)]) -> Project {
        self.opts(env).load().unwrap()
    }
    fn err(&self, env: &[(&str, &str)]) -> String {
        self.opts(env).load().unwrap_err().to_string()
    }
}

fn load_yaml(yaml: &str) -> Project {
    Dir::new(&[("compose.yaml", yaml)]).load(&[])
}

fn yaml_err(yaml: &str) -> (String, String) {
    let d = Dir::new(&[("compose.yaml", yaml)]);
    match d.opts(&[]).load().unwrap_err() {
        Error::InvalidCompose { file, path, reason } => {
            assert_eq!(file, d.path().join("compose.yaml"));
            (path, reason)
        }
        e => panic!("unexpected error {e}"),
    }
}

/// Asserts that each `(yaml, path, reason)` fails to load with that path and reason.
fn assert_yaml_errors(cases: &[(&str, &str, &str)]) {
    for (yaml, want_path, want_reason) in cases {
        let (path, reason) = yaml_err(yaml);
        assert_eq!(
            (path.as_str(), reason.as_str()),
            (*want_path, *want_reason),
            "{yaml}"
        );
    }
}

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn env_map(pairs: &[(&str, Option<&str>)]) -> BTreeMap<String, Option<String>> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.map(Into::into)))
        .collect()
}

#[test]
fn short_and_long_syntaxes_give_the_same_model() {
    let short_yaml = "services:
  web:
    image: nginx
    build: ./web
    command: nginx -g 'daemon off;'
    entrypoint: /docker-entrypoint.sh
    environment: [A=1, B=two=2, 'C=']
    labels: [com.example=x, flag]
    extra_hosts: ['db:10.0.0.2', 'v6=::1']
    ports: ['8080:80', '127.0.0.1:53:53/udp']
    volumes: ['data:/data:ro', './site:/www', /anon]
    networks: [front]
    depends_on: [db]
    dns: 8.8.8.8
    tmpfs: /run
    env_file: vars.env
    secrets: [token]
    ulimits: {nofile: 1024}
    healthcheck: {test: curl -f localhost}
  db: {image: postgres}
volumes: {data: }
networks: {front: }
secrets: {token: {file: ./token.txt}}
";
    let tmp = Dir::new(&[
        ("compose.yaml", short_yaml),
        ("vars.env", "FROM_FILE=1\nA=ignored\n"),
    ]);
    let dir = tmp.path().to_owned();
    let d = dir.to_string_lossy();
    let long_yaml = format!(
        "services:
  web:
    image: nginx
    build: {{context: ., dockerfile: Dockerfile}}
    command: [nginx, -g, daemon off;]
    entrypoint: [/docker-entrypoint.sh]
    environment: {{A: '1', B: two=2, C: ''}}
    labels: {{com.example: x, flag: ''}}
    extra_hosts: {{db: 10.0.0.2, v6: '::1'}}
    ports:
      - {{target: 80, published: '8080', protocol: tcp, mode: ingress}}
      - {{target: 53, published: 53, host_ip: 127.0.0.1, protocol: udp, mode: ingress}}
    volumes:
      - {{type: volume, source: data, target: /data, read_only: true}}
      - {{type: bind, source: {d}/site, target: /www, bind: {{create_host_path: true}}}}
      - {{type: volume, target: /anon}}
    networks: {{front: }}
    depends_on: {{db: {{condition: service_started}}}}
    dns: [8.8.8.8]
    tmpfs: [/run]
    env_file: [{{path: {d}/vars.env, required: true}}]
    secrets: [{{source: token}}]
    ulimits: {{nofile: {{soft: 1024, hard: 1024}}}}
    healthcheck: {{test: [CMD-SHELL, curl -f localhost]}}
  db: {{image: postgres}}
volumes: {{data: {{name: app_data}}}}
networks: {{front: }}
secrets: {{token: {{file: {d}/token.txt}}}}
"
    );
    let short = Dir::load_at(&dir, "compose.yaml");
    std::fs::write(dir.join("long.yaml"), long_yaml).unwrap();
    let mut long = Dir::load_at(&dir, "long.yaml");
    // The long form named a Dockerfile and the context `.`; the short one did not.
    let b = long
        .services
        .get_mut("web")
        .unwrap()
        .build
        .as_mut()
        .unwrap();
    assert_eq!(b.context.as_deref(), Some(d.as_ref()));
    b.context = Some(format!("{d}/web"));
    b.dockerfile = None;
    assert_eq!(short.services, long.services);
    assert_eq!(short.volumes, long.volumes);
    assert_eq!(short.secrets, long.secrets);

    let web = &short.services["web"];
    assert_eq!(
        web.command.as_deref().unwrap(),
        ["nginx", "-g", "daemon off;"]
    );
    assert_eq!(
        web.environment,
        env_map(&[
            ("A", Some("1")),
            ("B", Some("two=2")),
            ("C", Some("")),
            ("FROM_FILE", Some("1"))
        ])
    );
    assert_eq!(web.extra_hosts, map(&[("db", "10.0.0.2"), ("v6", "::1")]));
    assert_eq!(
        web.volumes[1].source.as_deref(),
        Some(format!("{d}/site").as_str())
    );
    assert_eq!(web.ports[1].host_ip.as_deref(), Some("127.0.0.1"));
    assert_eq!(web.ulimits["nofile"], Ulimit::new(1024, 1024));
    assert_eq!(short.networks["front"].name.as_deref(), Some("app_front"));
}

impl Dir {
    /// Loads `file` of `dir` as project `app` with an empty environment.
    fn load_at(dir: &Path, file: &str) -> Project {
        ProjectOptions::new()
            .file(dir.join(file))
            .environment(Vec::<(String, String)>::new())
            .project_name("app")
            .load()
            .unwrap()
    }
}

#[test]
fn every_service_key_reads_into_its_field() {
    let p = load_yaml(
        "services:
  s:
    image: busybox
    restart: unless-stopped
    working_dir: /srv
    user: 1000
    hostname: h
    container_name: c
    network_mode: host
    cap_add: [NET_ADMIN]
    cap_drop: [ALL]
    privileged: true
    read_only: 'true'
    mem_limit: 512m
    cpus: 1.5
    pids_limit: 100
    stop_signal: SIGINT
    stop_grace_period: 1m30s
    init: true
    tty: true
    stdin_open: false
    expose: ['3000', 3001]
    profiles: []
    deploy:
      replicas: 3
      resources: {limits: {cpus: '0.5', memory: 256M, pids: 50}}
    healthcheck:
      test: [CMD, true]
      interval: 10s
      timeout: 1.5s
      retries: 3
      start_period: 1m
      start_interval: 500ms
    configs:
      - {source: conf, target: /etc/conf, mode: 0440}
      - {source: conf, target: /etc/conf2, mode: '0o600'}
configs:
  conf: {content: hello}
",
    );
    let s = &p.services["s"];
    assert_eq!(s.restart.as_deref(), Some("unless-stopped"));
    assert_eq!(s.user.as_deref(), Some("1000"));
    assert_eq!(s.network_mode.as_deref(), Some("host"));
    assert!(s.networks.is_empty(), "network_mode: no default network");
    assert_eq!(
        (s.privileged, s.read_only, s.init, s.tty, s.stdin_open),
        (Some(true), Some(true), Some(true), Some(true), Some(false))
    );
    assert_eq!(s.mem_limit, Some(512 << 20));
    assert_eq!(s.cpus, Some(1.5));
    assert_eq!(s.pids_limit, Some(100));
    assert_eq!(s.stop_grace_period, Some(Duration::from_secs(90)));
    assert_eq!(s.expose, ["3000", "3001"]);
    let d = s.deploy.as_ref().unwrap();
    assert_eq!(d.replicas, Some(3));
    let l = d.resources.as_ref().unwrap().limits.as_ref().unwrap();
    assert_eq!(
        (l.cpus, l.memory, l.pids),
        (Some(0.5), Some(256 << 20), Some(50))
    );
    let h = s.healthcheck.as_ref().unwrap();
    assert_eq!(h.test.as_deref().unwrap(), ["CMD", "true"]);
    assert_eq!(h.interval, Some(Duration::from_secs(10)));
    assert_eq!(h.timeout, Some(Duration::from_millis(1500)));
    assert_eq!(h.retries, Some(3));
    assert_eq!(h.start_period, Some(Duration::from_secs(60)));
    assert_eq!(h.start_interval, Some(Duration::from_millis(500)));
    assert_eq!(s.configs[0].mode, Some(0o440));
    assert_eq!(s.configs[1].mode, Some(0o600));
    assert_eq!(p.configs["conf"].content.as_deref(), Some("hello"));
    assert_eq!(p.configs["conf"].name.as_deref(), Some("app_conf"));
    assert!(!p.networks.contains_key("default"));
}

#[test]
fn long_volume_and_network_forms() {
    let yaml = "services:
  s:
    image: x
    volumes:
      - type: tmpfs
        target: /cache
        tmpfs: {size: 64m}
      - type: bind
        source: ~/conf
        target: /conf
        read_only: true
        bind: {propagation: rshared}
    networks:
      back:
        aliases: [api]
        ipv4_address: 172.28.0.5
networks:
  back:
    driver: bridge
    internal: true
    ipam:
      config:
        - subnet: 172.28.0.0/16
          gateway: 172.28.0.1
    labels: [team=core]
  outside: {external: true}
";
    let p = Dir::new(&[("compose.yaml", yaml)]).load(&[("HOME", "/nonexistent-home")]);
    let s = &p.services["s"];
    assert_eq!(s.volumes[0].kind, VolumeType::Tmpfs);
    assert_eq!(s.volumes[0].tmpfs.as_ref().unwrap().size, Some(64 << 20));
    assert_eq!(
        s.volumes[1].source.as_deref(),
        Some("/nonexistent-home/conf")
    );
    assert!(s.volumes[1].read_only);
    assert_eq!(s.networks["back"].aliases, ["api"]);
    assert_eq!(
        s.networks["back"].ipv4_address.as_deref(),
        Some("172.28.0.5")
    );
    let n = &p.networks["back"];
    assert!(n.internal);
    assert_eq!(n.name.as_deref(), Some("app_back"));
    let pool = &n.ipam.as_ref().unwrap().config[0];
    assert_eq!(
        (pool.subnet.as_deref(), pool.gateway.as_deref()),
        (Some("172.28.0.0/16"), Some("172.28.0.1"))
    );
    assert_eq!(n.labels, map(&[("team", "core")]));
    assert_eq!(p.networks["outside"].name.as_deref(), Some("outside"));
}

#[test]
fn depends_on_long_form() {
    let p = load_yaml(
        "services:
  web:
    image: x
    depends_on:
      db: {condition: service_healthy, restart: true}
      init: {condition: service_completed_successfully}
      cache: {condition: service_started, required: false}
  db: {image: x}
  init: {image: x}
",
    );
    let deps = &p.services["web"].depends_on;
    assert_eq!(deps["db"].condition, Condition::ServiceHealthy);
    assert!(deps["db"].restart && deps["db"].required);
    assert_eq!(
        deps["init"].condition,
        Condition::ServiceCompletedSuccessfully
    );
    assert!(
        !deps.contains_key("cache"),
        "not required and not there: dropped"
    );
    assert_eq!(p.warnings.len(), 1, "{:?}", p.warnings);
}

#[test]
fn files_merge_by_composes_rules() {
    let d = Dir::new(&[
        (
            "base.yaml",
            "services:
  web:
    image: web:1
    command: [serve, --port, '80']
    environment: {A: base, B: base}
    labels: [x=1]
    extra_hosts: ['a:10.0.0.1']
    ports: ['8080:80', '9090:90']
    expose: ['1']
    dns: [1.1.1.1]
    volumes: ['data:/data', './a:/a']
    networks: {front: {aliases: [w]}}
    healthcheck: {test: [CMD, a], interval: 5s}
    build: {context: ., args: {V: '1', W: '1'}}
volumes: {data: }
networks: {front: , back: }
",
        ),
        (
            "override.yaml",
            "services:
  web:
    image: web:2
    command: [serve]
    environment: [B=override, C=new]
    labels: {y: '2'}
    extra_hosts: {a: 10.0.0.9, b: 10.0.0.2}
    ports: ['8080:80', '7070:70']
    expose: ['1', '2']
    dns: 8.8.8.8
    volumes: ['./other:/data']
    networks: [back]
    healthcheck: {test: [CMD, b]}
    build: {args: [W=2]}
  extra: {image: busybox}
",
        ),
    ]);
    let p = ProjectOptions::new()
        .file(d.path().join("base.yaml"))
        .file(d.path().join("override.yaml"))
        .environment(Vec::<(String, String)>::new())
        .load()
        .unwrap();
    let w = &p.services["web"];
    assert_eq!(w.image.as_deref(), Some("web:2"));
    assert_eq!(
        w.command.as_deref().unwrap(),
        ["serve"],
        "command is replaced"
    );
    assert_eq!(
        w.environment,
        env_map(&[
            ("A", Some("base")),
            ("B", Some("override")),
            ("C", Some("new"))
        ])
    );
    assert_eq!(w.labels, map(&[("x", "1"), ("y", "2")]));
    assert_eq!(w.extra_hosts, map(&[("a", "10.0.0.9"), ("b", "10.0.0.2")]));
    let ports: Vec<_> = w
        .ports
        .iter()
        .map(|p| (p.published.as_deref().unwrap(), p.target))
        .collect();
    assert_eq!(
        ports,
        [("8080", 80), ("9090", 90), ("7070", 70)],
        "unique, appended"
    );
    assert_eq!(w.expose, ["1", "2"]);
    assert_eq!(w.dns, ["1.1.1.1", "8.8.8.8"]);
    let vols: Vec<_> = w
        .volumes
        .iter()
        .map(|v| (v.kind, v.target.as_str()))
        .collect();
    assert_eq!(
        vols,
        [(VolumeType::Bind, "/data"), (VolumeType::Bind, "/a")],
        "by target"
    );
    assert!(w.volumes[0].source.as_deref().unwrap().ends_with("/other"));
    assert_eq!(w.networks.keys().collect::<Vec<_>>(), ["back", "front"]);
    assert_eq!(w.networks["front"].aliases, ["w"]);
    let h = w.healthcheck.as_ref().unwrap();
    assert_eq!(h.test.as_deref().unwrap(), ["CMD", "b"]);
    assert_eq!(
        h.interval,
        Some(Duration::from_secs(5)),
        "the rest of healthcheck merges"
    );
    let b = w.build.as_ref().unwrap();
    assert_eq!(b.args, env_map(&[("V", Some("1")), ("W", Some("2"))]));
    assert!(p.services.contains_key("extra"));
    assert_eq!(
        p.name,
        normalize(d.path()),
        "the first file's directory names the project"
    );
    assert_eq!(
        p.files,
        [d.path().join("base.yaml"), d.path().join("override.yaml")]
    );
}

fn normalize(dir: &Path) -> String {
    super::load::normalize_name(&dir.file_name().unwrap().to_string_lossy())
}

#[test]
fn default_files_and_their_override_are_found() {
    let d = Dir::new(&[
        ("docker-compose.yml", "services: {old: {image: old}}"),
        ("compose.yaml", "services: {web: {image: web:1}}"),
        ("compose.override.yml", "services: {web: {image: web:2}}"),
        (
            "docker-compose.override.yaml",
            "services: {web: {image: web:3}}",
        ),
    ]);
    let p = d.load(&[]);
    assert_eq!(
        p.services.keys().collect::<Vec<_>>(),
        ["web"],
        "compose.yaml wins"
    );
    assert_eq!(p.services["web"].image.as_deref(), Some("web:2"));
    assert_eq!(
        p.files,
        [
            d.path().join("compose.yaml"),
            d.path().join("compose.override.yml")
        ]
    );

    let d = Dir::new(&[("docker-compose.yaml", "services: {a: {image: a}}")]);
    assert_eq!(d.load(&[]).files, [d.path().join("docker-compose.yaml")]);

    let d = Dir::new(&[]);
    assert!(
        d.err(&[]).contains("no configuration file provided"),
        "{}",
        d.err(&[])
    );
}

#[test]
fn env_files_and_the_environment() {
    let yaml = "services:
  s:
    image: 'img:${TAG}'
    environment: [FROM_DOTENV, FROM_PROCESS, UNSET]
    labels: {who: '${WHO}'}
";
    let d = Dir::new(&[
        ("compose.yaml", yaml),
        (".env", "TAG=dotenv\nWHO=dotenv\nFROM_DOTENV=d\n"),
        ("prod.env", "TAG=prod\n"),
        ("extra.env", "WHO=extra\n"),
    ]);
    // `.env` is read; the process environment wins over it.
    let p = d.load(&[("WHO", "process"), ("FROM_PROCESS", "p")]);
    let s = &p.services["s"];
    assert_eq!(s.image.as_deref(), Some("img:dotenv"));
    assert_eq!(s.labels["who"], "process");
    assert_eq!(
        s.environment,
        env_map(&[
            ("FROM_DOTENV", Some("d")),
            ("FROM_PROCESS", Some("p")),
            ("UNSET", None)
        ])
    );
    assert_eq!(p.environment["TAG"], "dotenv");

    // `--env-file`s replace `.env`; later ones win.
    let p = d
        .opts(&[])
        .env_file("prod.env")
        .env_file("extra.env")
        .load()
        .unwrap();
    let s = &p.services["s"];
    assert_eq!(s.image.as_deref(), Some("img:prod"));
    assert_eq!(s.labels["who"], "extra");
    assert_eq!(s.environment["FROM_DOTENV"], None, ".env was not read");

    let err = d
        .opts(&[])
        .env_file("missing.env")
        .load()
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("reading env file ") && err.ends_with("missing.env"),
        "{err}"
    );
}

#[test]
fn missing_variables_warn_and_required_ones_fail() {
    let d = Dir::new(&[(
        "compose.yaml",
        "services: {s: {image: 'x:${TAG}', user: $WHO$WHO}}",
    )]);
    let p = d.load(&[]);
    assert_eq!(p.services["s"].image.as_deref(), Some("x:"));
    assert_eq!(
        p.warnings,
        [
            "The \"TAG\" variable is not set. Defaulting to a blank string.",
            "The \"WHO\" variable is not set. Defaulting to a blank string.",
        ]
    );
    let (path, reason) =
        yaml_err("services:\n  web:\n    image: 'x:${TAG:?set TAG to the release}'\n");
    assert_eq!(path, "services.web.image");
    assert_eq!(
        reason,
        "required variable TAG is missing a value: set TAG to the release"
    );
    let (path, reason) = yaml_err("services:\n  web:\n    command: [a, '${oops']\n    image: x\n");
    assert_eq!(path, "services.web.command[1]");
    assert!(
        reason.starts_with("invalid interpolation format \"${oops\""),
        "{reason}"
    );
}

#[test]
fn escapes_and_defaults_reach_the_model() {
    let p = load_yaml("services: {web: {image: x, environment: {A: $$HOME, B: '${X:-a}', C: '${X:-${Y:-deep}}'}}}");
    assert_eq!(
        p.services["web"].environment,
        env_map(&[("A", Some("$HOME")), ("B", Some("a")), ("C", Some("deep"))])
    );
    assert!(p.warnings.is_empty());
}

#[test]
fn project_names() {
    let d = Dir::new(&[(
        "compose.yaml",
        "name: from-file\nservices: {s: {image: x}}\n",
    )]);
    let named = |opts: &mut ProjectOptions| opts.load().map(|p| p.name).map_err(|e| e.to_string());
    let mut o = ProjectOptions::new();
    o.project_directory(d.path())
        .environment([("COMPOSE_PROJECT_NAME", "from-env")]);
    assert_eq!(
        named(o.clone().project_name("flag")),
        Ok("flag".into()),
        "-p first"
    );
    assert_eq!(
        named(&mut o),
        Ok("from-env".into()),
        "then COMPOSE_PROJECT_NAME"
    );
    let mut o = ProjectOptions::new();
    o.project_directory(d.path())
        .environment(Vec::<(String, String)>::new());
    assert_eq!(named(&mut o), Ok("from-file".into()), "then name:");
    let err = named(o.clone().project_name("Bad Name")).unwrap_err();
    assert!(
        err.ends_with("\"Bad Name\" is not a valid project name: it must contain only characters from [a-z0-9_-] and start with [a-z0-9]"),
        "{err}"
    );
    assert!(named(o.clone().project_name("_x")).is_err());
    assert!(named(o.clone().project_name(""))
        .unwrap_err()
        .ends_with("project name must not be empty"));

    // The directory's name is made valid rather than refused.
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("My.App_Dir-2");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(
        dir.join("compose.yaml"),
        "services: {s: {image: '${COMPOSE_PROJECT_NAME}'}}",
    )
    .unwrap();
    let mut o = ProjectOptions::new();
    o.project_directory(&dir)
        .environment(Vec::<(String, String)>::new());
    let p = o.load().unwrap();
    assert_eq!(p.name, "myapp_dir-2");
    assert_eq!(
        p.services["s"].image.as_deref(),
        Some("myapp_dir-2"),
        "the name is a variable"
    );
    assert_eq!(super::load::normalize_name("__-Hello World!"), "helloworld");
}

#[test]
fn profiles_enable_services() {
    let yaml = "services:
  web: {image: web}
  debug: {image: dbg, profiles: [debug]}
  mock: {image: mock, profiles: [dev, test]}
";
    let d = Dir::new(&[("compose.yaml", yaml)]);
    let active = |p: Project| p.services.into_keys().collect::<Vec<_>>();
    assert_eq!(active(d.load(&[])), ["web"]);
    assert_eq!(
        active(d.opts(&[]).profile("test").load().unwrap()),
        ["mock", "web"]
    );
    assert_eq!(
        active(d.opts(&[]).profile("*").load().unwrap()),
        ["debug", "mock", "web"]
    );
    assert_eq!(
        active(d.load(&[("COMPOSE_PROFILES", "debug,dev")])),
        ["debug", "mock", "web"]
    );
    assert_eq!(
        active(d.opts(&[]).service("debug").load().unwrap()),
        ["debug", "web"],
        "asked for by name"
    );
    let p = d.load(&[]);
    assert_eq!(
        p.disabled_services.keys().collect::<Vec<_>>(),
        ["debug", "mock"]
    );
    assert!(d
        .opts(&[])
        .service("nope")
        .load()
        .unwrap_err()
        .to_string()
        .ends_with("no such service: nope"));

    let d = Dir::new(&[(
        "compose.yaml",
        "services:\n  web: {image: web, depends_on: [db]}\n  db: {image: db, profiles: [dev]}\n",
    )]);
    assert_eq!(
        d.err(&[]),
        format!(
            "{}: services.web.depends_on.db: service \"db\" is disabled by its profiles [dev]",
            d.path().join("compose.yaml").display()
        )
    );
    assert_eq!(
        active(d.opts(&[]).profile("dev").load().unwrap()),
        ["db", "web"]
    );
}

#[test]
fn unknown_keys_and_wrong_types_name_their_path() {
    let cases: &[(&str, &str, &str)] = &[
        ("services: {web: {image: x, portz: [80]}}", "services.web.portz", "unknown key"),
        ("services: {web: {image: x}}\nvolumez: {}", "volumez", "unknown key"),
        (
            "services: {web: {image: x, ports: ['80', '80:80:80/tcpx']}}",
            "services.web.ports[1]",
            "invalid port \"80:80:80/tcpx\": invalid proto: tcpx",
        ),
        (
            "services: {web: {image: x, healthcheck: {interval: soon}}}",
            "services.web.healthcheck.interval",
            "invalid duration \"soon\"",
        ),
        ("services: {web: {image: x, mem_limit: lots}}", "services.web.mem_limit", "invalid size \"lots\""),
        ("services: {web: {image: x, privileged: maybe}}", "services.web.privileged", "invalid boolean \"maybe\""),
        (
            "services: {web: {image: x, volumes: [{type: bind, source: /a, target: /b, bogus: 1}]}}",
            "services.web.volumes[0].bogus",
            "unknown key",
        ),
        (
            "services: {web: {image: x, depends_on: {db: {condition: service_ready}}}}\n",
            "services.web.depends_on.db.condition",
            "unknown variant `service_ready`, expected one of `service_started`, `service_healthy`, `service_completed_successfully`",
        ),
        ("services: {web: {image: x, command: {a: b}}}", "services.web.command", "invalid type: map, expected a string or a list of strings"),
        ("services: {web: {image: x, deploy: {replicas: many}}}", "services.web.deploy.replicas", "invalid number \"many\""),
    ];
    assert_yaml_errors(cases);
    let p = load_yaml(
        "services: {web: {image: x, x-meta: 1, build: {context: ., x-more: 2}}}\nx-top: {a: 1}",
    );
    assert_eq!(
        p.services["web"].image.as_deref(),
        Some("x"),
        "x- keys are ignored"
    );
}

#[test]
fn yaml_syntax_errors_name_line_and_column() {
    let (path, reason) = yaml_err("services:\n  web:\n    image: x\n   bad: [\n");
    assert_eq!(path, "");
    assert!(reason.contains("line 4 column 4"), "{reason}");
}

#[test]
fn anchors_and_merge_keys() {
    let p = load_yaml(
        "x-base: &base
  image: app:1
  environment: {A: '1', B: '1'}
  restart: always
x-more: &more
  <<: *base
  user: nobody
services:
  one:
    <<: *base
    environment: {A: '2'}
  two:
    <<: [*more, {hostname: h, restart: 'no'}]
    labels: &labels {team: core}
  three: {image: x, labels: *labels}
",
    );
    let one = &p.services["one"];
    assert_eq!(one.image.as_deref(), Some("app:1"));
    assert_eq!(one.restart.as_deref(), Some("always"));
    assert_eq!(
        one.environment,
        env_map(&[("A", Some("2"))]),
        "the mapping's own keys win, not merged deeper"
    );
    let two = &p.services["two"];
    assert_eq!(
        two.user.as_deref(),
        Some("nobody"),
        "a merge inside a merged mapping"
    );
    assert_eq!(two.image.as_deref(), Some("app:1"));
    assert_eq!(
        two.restart.as_deref(),
        Some("always"),
        "the first listed mapping wins"
    );
    assert_eq!(two.hostname.as_deref(), Some("h"));
    assert_eq!(p.services["three"].labels, map(&[("team", "core")]));
}

#[test]
fn dependency_errors() {
    assert_yaml_errors(&[
        ("services: {web: {image: x, depends_on: [db]}}", "services.web.depends_on.db", "depends on undefined service \"db\""),
        ("services:\n  a: {image: x, depends_on: [b]}\n  b: {image: x, depends_on: [c]}\n  c: {image: x, depends_on: [a]}\n  d: {image: x, depends_on: [a]}\n", "services", "dependency cycle detected: a -> b -> c -> a"),
        ("services: {web: {restart: always}}", "services.web", "has neither an image nor a build context specified"),
        ("services: {web: {image: x, volumes: ['data:/d']}}", "services.web.volumes[0]", "undefined volume \"data\""),
        ("services: {web: {image: x, networks: [back]}}", "services.web.networks.back", "undefined network \"back\""),
        ("services: {web: {image: x, secrets: [s]}}", "services.web.secrets[0]", "undefined secret \"s\""),
        ("services: {web: {image: x}}\nsecrets: {s: {content: x}}", "secrets.s.content", "content is only allowed for configs"),
    ]);
}

#[test]
fn start_and_stop_order() {
    let p = load_yaml(
        "services:
  web: {image: x, depends_on: [api, cache]}
  api: {image: x, depends_on: {db: {condition: service_healthy}, migrate: {condition: service_completed_successfully}}}
  migrate: {image: x, depends_on: [db]}
  db: {image: x}
  cache: {image: x}
  adminer: {image: x}
",
    );
    assert_eq!(
        p.start_order().unwrap(),
        ["adminer", "cache", "db", "migrate", "api", "web"]
    );
    assert_eq!(
        p.stop_order().unwrap(),
        ["web", "api", "migrate", "db", "cache", "adminer"]
    );
    let mut broken = p.clone();
    broken
        .services
        .get_mut("db")
        .unwrap()
        .depends_on
        .insert("web".into(), Dependency::default());
    assert!(broken
        .start_order()
        .unwrap_err()
        .to_string()
        .contains("dependency cycle detected: api -> db -> web -> api"));
}

#[test]
fn config_hash_is_stable_and_sensitive() {
    let a = load_yaml("services: {web: {image: nginx:1, environment: {A: '1', B: '2'}, ports: ['80:80'], labels: [x=1, y=2]}}");
    let b = load_yaml(
        "services:\n  web:\n    labels: {y: '2', x: '1'}\n    ports: [{target: 80, published: 80}]\n    environment: [B=2, A=1]\n    image: nginx:1\n    deploy: {replicas: 4}\n    scale: 2\n    profiles: []\n",
    );
    let (ha, hb) = (
        a.services["web"].config_hash(),
        b.services["web"].config_hash(),
    );
    assert_eq!(ha.len(), 64);
    assert_eq!(
        ha, hb,
        "key order, short/long forms and replicas do not matter"
    );
    assert_eq!(ha, a.services["web"].config_hash(), "stable");
    let c = load_yaml("services: {web: {image: nginx:2, environment: {A: '1', B: '2'}, ports: ['80:80'], labels: [x=1, y=2]}}");
    assert_ne!(ha, c.services["web"].config_hash(), "another image");
    let d = load_yaml("services: {web: {image: nginx:1, environment: {A: '1', B: '3'}, ports: ['80:80'], labels: [x=1, y=2]}}");
    assert_ne!(ha, d.services["web"].config_hash(), "another variable");
}

const APP: &str = "services:
  db:
    image: postgres:16
    environment: {POSTGRES_PASSWORD: secret}
    ports: ['5432']
    volumes: ['data:/var/lib/postgresql/data']
    healthcheck: {test: [CMD, pg_isready], interval: 5s, retries: 5}
  web:
    build: ./web
    command: [serve, --port, '80']
    ports: ['8080:80']
    depends_on: {db: {condition: service_healthy}}
    volumes: ['./site:/www:ro']
    mem_limit: 64m
    deploy: {replicas: 2}
volumes: {data: }
";

#[test]
fn the_builder_makes_the_loaded_model() {
    let d = Dir::new(&[("compose.yaml", APP)]);
    let loaded = d.load(&[]);
    let built = Project::new("app")
        .working_dir(d.path())
        .service("db", |s| {
            s.image("postgres:16")
                .env("POSTGRES_PASSWORD", "secret")
                .port("5432")
                .volume("data:/var/lib/postgresql/data")
                .healthcheck(
                    Healthcheck::cmd(["pg_isready"])
                        .interval(Duration::from_secs(5))
                        .retries(5),
                )
        })
        .service("web", |s| {
            s.build("./web")
                .command(["serve", "--port", "80"])
                .port("8080:80")
                .depends_on("db", Condition::ServiceHealthy)
                .volume("./site:/www:ro")
                .mem_limit(64 << 20)
                .replicas(2)
        })
        .volume("data", VolumeConfig::default())
        .build()
        .unwrap();
    assert_eq!(built, loaded);
    assert_eq!(
        built.services["web"]
            .build
            .as_ref()
            .unwrap()
            .context
            .as_deref(),
        Some(d.path().join("web").to_str().unwrap())
    );

    let err = Project::new("app")
        .service("a", |s| s.image("x").port("80:80:80/tcpx"))
        .build()
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "<project app>: services.a.ports[0]: invalid port \"80:80:80/tcpx\": invalid proto: tcpx"
    );
    let err = Project::new("app")
        .service("a", |s| {
            s.image("x").depends_on("b", Condition::ServiceStarted)
        })
        .build()
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "<project app>: services.a.depends_on.b: depends on undefined service \"b\""
    );
    assert!(Project::new("Bad").build().is_err());
}

#[test]
fn to_yaml_prints_the_resolved_model_and_reads_back() {
    let d = Dir::new(&[
        ("compose.yaml", APP),
        ("more.yaml", "services:\n  web:\n    environment: {PRICE: '$$5', HOME_DIR: '${HOME}'}\n    stop_grace_period: 1m30s\n    configs: [{source: c, mode: 0440}]\nconfigs: {c: {file: ./c.txt}}\n"),
    ]);
    let p = d
        .opts(&[("HOME", "/home/u")])
        .file(d.path().join("compose.yaml"))
        .file(d.path().join("more.yaml"))
        .load()
        .unwrap();
    let yaml = p.to_yaml().unwrap();
    let dir = d.path().display();
    for want in [
        "name: app\n",
        &format!("      context: {dir}/web\n"),
        "    - mode: ingress\n      target: 80\n      published: '8080'\n      protocol: tcp\n",
        &format!("      source: {dir}/site\n"),
        "      PRICE: $$5\n",
        "    stop_grace_period: 1m30s\n",
        "      mode: '0440'\n",
        "    name: app_default\n",
        "    name: app_data\n",
    ] {
        assert!(yaml.contains(want), "{want:?} not in\n{yaml}");
    }
    assert!(
        yaml.find("  db:").unwrap() < yaml.find("  web:").unwrap(),
        "services sorted"
    );
    std::fs::write(d.path().join("resolved.yaml"), &yaml).unwrap();
    let again = ProjectOptions::new()
        .file(d.path().join("resolved.yaml"))
        .environment(Vec::<(String, String)>::new())
        .load()
        .unwrap();
    assert_eq!(again, p, "{yaml}");
    assert!(again.warnings.is_empty(), "{:?}", again.warnings);
    assert_eq!(
        again.services["web"].environment["PRICE"].as_deref(),
        Some("$5")
    );
}
