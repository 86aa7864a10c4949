//! Loading projects from files: syntaxes, merges, environment, names, profiles, errors,
//! order, hashes, the builder and `to_yaml`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
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

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn env_map(pairs: &[(&str, Option<&str>)]) -> BTreeMap<String, Option<String>> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.map(Into::into))).collect()
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
    let tmp = Dir::new(&[("compose.yaml", short_yaml), ("vars.env", "FROM_FILE=1\nA=ignored\n")]);
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
    let b = long.services.get_mut("web").unwrap().build.as_mut().unwrap();
    assert_eq!(b.context.as_deref(), Some(d.as_ref()));
    b.context = Some(format!("{d}/web"));
    b.dockerfile = None;
    assert_eq!(short.services, long.services);
    assert_eq!(short.volumes, long.volumes);
    assert_eq!(short.secrets, long.secrets);

    let web = &short.services["web"];
    assert_eq!(web.command.as_deref().unwrap(), ["nginx", "-g", "daemon off;"]);
    assert_eq!(
        web.environment,
        env_map(&[("A", Some("1")), ("B", Some("two=2")), ("C", Some("")), ("FROM_FILE", Some("1"))])
    );
    assert_eq!(web.extra_hosts, map(&[("db", "10.0.0.2"), ("v6", "::1")]));
    assert_eq!(web.volumes[1].source.as_deref(), Some(format!("{d}/site").as_str()));
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
    assert_eq!((s.privileged, s.read_only, s.init, s.tty, s.stdin_open), (Some(true), Some(true), Some(true), Some(true), Some(false)));
    assert_eq!(s.mem_limit, Some(512 << 20));
    assert_eq!(s.cpus, Some(1.5));
    assert_eq!(s.pids_limit, Some(100));
    assert_eq!(s.stop_grace_period, Some(Duration::from_secs(90)));
    assert_eq!(s.expose, ["3000", "3001"]);
    let d = s.deploy.as_ref().unwrap();
    assert_eq!(d.replicas, Some(3));
    let l = d.resources.as_ref().unwrap().limits.as_ref().unwrap();
    assert_eq!((l.cpus, l.memory, l.pids), (Some(0.5), Some(256 << 20), Some(50)));
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
    assert_eq!(s.volumes[1].source.as_deref(), Some("/nonexistent-home/conf"));
    assert!(s.volumes[1].read_only);
    assert_eq!(s.networks["back"].aliases, ["api"]);
    assert_eq!(s.networks["back"].ipv4_address.as_deref(), Some("172.28.0.5"));
    let n = &p.networks["back"];
    assert!(n.internal);
    assert_eq!(n.name.as_deref(), Some("app_back"));
    let pool = &n.ipam.as_ref().unwrap().config[0];
    assert_eq!((pool.subnet.as_deref(), pool.gateway.as_deref()), (Some("172.28.0.0/16"), Some("172.28.0.1")));
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
    assert_eq!(deps["init"].condition, Condition::ServiceCompletedSuccessfully);
    assert!(!deps.contains_key("cache"), "not required and not there: dropped");
    assert_eq!(p.warnings.len(), 1, "{:?}", p.warnings);
}
