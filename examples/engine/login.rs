//! `login`, `logout` and `search`: Docker's client credentials and a registry's catalog.
//!
//! `login` checks the credentials against the registry, then stores them where `docker
//! login` does (`$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`, or the
//! `credsStore`/`credHelpers` helper it names), so `docker` and the engine share them.
//!
//! `search HOST[:PORT]/TERM` lists the repositories of that registry's catalog
//! (`/v2/_catalog`) whose name contains TERM, with their tags as the description: a
//! private registry has no search API (Docker's `search` asks the v1 search endpoint that
//! only Docker Hub serves), but it has a catalog. Docker Hub has no catalog, so a TERM
//! without a registry is refused with a hint.

use std::io::{self, BufRead, IsTerminal, Read, Write};

use cargohold::{Credentials, DockerConfig, Registry};

use crate::{CmdResult, Failure};

/// `login [-u U] [-p P | --password-stdin] [SERVER]`.
pub(crate) fn login(
    server: Option<&str>,
    username: Option<&str>,
    password: Option<&str>,
    password_stdin: bool,
    insecure: &[String],
) -> CmdResult {
    let config = DockerConfig::from_env();
    let server = server.unwrap_or("docker.io");
    let key = DockerConfig::server_key(server);
    let registry = |creds: Option<&Credentials>| {
        let mut r = Registry::new(server);
        for host in insecure {
            r.insecure(host);
        }
        if let Some(c) = creds {
            r.credentials(c.username(), c.password());
        }
        r
    };
    if password.is_some() && password_stdin {
        return Err(Failure::Usage(
            "--password and --password-stdin are mutually exclusive".into(),
        ));
    }
    if password_stdin && username.is_none() {
        return Err(Failure::Usage(
            "Must provide --username with --password-stdin".into(),
        ));
    }
    if password.is_some() {
        eprintln!("WARNING! Using --password via the CLI is insecure. Use --password-stdin.");
    }
    // as Docker: no flags and stored credentials that still work means nothing to ask
    if username.is_none() && password.is_none() {
        if let Some(stored) = config.get(&key)? {
            if registry(Some(&stored)).login().is_ok() {
                println!("Authenticating with existing credentials...");
                println!("Login Succeeded");
                return Ok(0);
            }
        }
    }
    let username = match username {
        Some(u) => u.to_owned(),
        None => prompt("Username: ")?,
    };
    if username.is_empty() {
        return Err(Failure::Usage("Error: Non-null Username Required".into()));
    }
    let password = match (password, password_stdin) {
        (Some(p), _) => p.to_owned(),
        (None, true) => {
            let mut p = String::new();
            io::stdin().read_to_string(&mut p)?;
            p.trim_end_matches(['\n', '\r']).to_owned()
        }
        (None, false) => prompt_hidden("Password: ")?,
    };
    if password.is_empty() {
        return Err(Failure::Usage("Error: Non-null Password Required".into()));
    }
    let creds = Credentials::new(&username, &password);
    registry(Some(&creds)).login()?;
    config.store(&key, &creds)?;
    if !uses_helper(&config, &key) {
        eprintln!(
            "WARNING! Your password will be stored unencrypted in {}.\n\
             Configure a credential helper to remove this warning. See\n\
             https://docs.docker.com/engine/reference/commandline/login/#credentials-store\n",
            config.path().display()
        );
    }
    println!("Login Succeeded");
    Ok(0)
}

/// Whether `key`'s credentials go to a helper (then no "stored unencrypted" warning).
fn uses_helper(config: &DockerConfig, key: &str) -> bool {
    let Ok(bytes) = std::fs::read(config.path()) else {
        return false;
    };
    let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
    v["credHelpers"][key]
        .as_str()
        .is_some_and(|h| !h.is_empty())
        || v["credsStore"].as_str().is_some_and(|h| !h.is_empty())
}

/// Asks on the terminal (stderr) and reads a line of stdin.
fn prompt(question: &str) -> Result<String, Failure> {
    eprint!("{question}");
    let _ = io::stderr().flush();
    let mut line = String::new();
    io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim_end_matches(['\n', '\r']).trim().to_owned())
}

/// As [`prompt`], without echo when stdin is a terminal.
fn prompt_hidden(question: &str) -> Result<String, Failure> {
    use rustix::termios::{self, LocalModes, OptionalActions};
    if !io::stdin().is_terminal() {
        return prompt(question);
    }
    let saved = termios::tcgetattr(io::stdin()).map_err(io::Error::from)?;
    let mut quiet = saved.clone();
    quiet.local_modes.remove(LocalModes::ECHO);
    termios::tcsetattr(io::stdin(), OptionalActions::Now, &quiet).map_err(io::Error::from)?;
    let answer = prompt(question);
    let _ = termios::tcsetattr(io::stdin(), OptionalActions::Now, &saved);
    eprintln!();
    answer
}

/// `logout [SERVER]`.
pub(crate) fn logout(server: Option<&str>) -> CmdResult {
    let config = DockerConfig::from_env();
    let shown = server.unwrap_or("https://index.docker.io/v1/");
    let key = DockerConfig::server_key(shown);
    if config.erase(&key)? {
        println!("Removing login credentials for {shown}");
    } else {
        println!("Not logged in to {shown}");
    }
    Ok(0)
}

/// What `search` prints of a repository (Docker's fields).
struct Found {
    name: String,
    description: String,
}

/// `search [--limit N] [--no-trunc] [--format T] HOST[:PORT]/TERM`.
pub(crate) fn search(
    term: &str,
    limit: usize,
    no_trunc: bool,
    format: Option<&str>,
    insecure: &[String],
) -> CmdResult {
    if !(1..=100).contains(&limit) {
        return Err(Failure::Usage(format!(
            "invalid limit value {limit}: must be between 1 and 100"
        )));
    }
    let (server, term) = match term.split_once('/') {
        Some((host, rest)) if host.contains('.') || host.contains(':') || host == "localhost" => {
            (host, rest)
        }
        _ => {
            return Err(Failure::Usage(format!(
                "Docker Hub has no catalog to search: name a registry, as in `engine search \
                 HOST:PORT/{term}`"
            )))
        }
    };
    let mut registry = Registry::new(server);
    for host in insecure {
        registry.insecure(host);
    }
    let found: Vec<Found> = registry
        .search(term, limit)?
        .into_iter()
        .map(|r| Found {
            name: r.name,
            description: r.description,
        })
        .collect();
    if let Some(template) = format.filter(|t| !t.is_empty()) {
        const HEADERS: &[(&str, &str)] = &[
            ("Name", "NAME"),
            ("Description", "DESCRIPTION"),
            ("StarCount", "STARS"),
            ("IsOfficial", "OFFICIAL"),
            ("IsAutomated", "AUTOMATED"),
        ];
        let rows: Vec<crate::template::Row> = found
            .iter()
            .map(|f| {
                crate::template::Row::new(serde_json::json!({
                    "Name": f.name,
                    "Description": f.description,
                    "StarCount": 0,
                    "IsOfficial": false,
                    "IsAutomated": false,
                }))
            })
            .collect();
        crate::format::print_list(
            Some(template),
            "table {{.Name}}\t{{.Description}}\t{{.StarCount}}\t{{.IsOfficial}}",
            HEADERS,
            &rows,
        )?;
        return Ok(0);
    }
    let mut rows = vec![[
        "NAME".to_owned(),
        "DESCRIPTION".to_owned(),
        "STARS".to_owned(),
        "OFFICIAL".to_owned(),
    ]];
    for f in &found {
        let description = if no_trunc {
            f.description.clone()
        } else {
            truncate(&f.description, 45)
        };
        rows.push([f.name.clone(), description, "0".into(), String::new()]);
    }
    crate::format::print_table(&rows);
    Ok(0)
}

/// Docker's `stringutils.Ellipsis`: at most `n` characters, the last one `…` if cut.
fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        return s.to_owned();
    }
    let mut t: String = s.chars().take(n - 1).collect();
    t.push('…');
    t
}
