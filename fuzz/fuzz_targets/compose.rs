//! The compose loader never panics: the bytes before the first NUL are a compose file,
//! the bytes after it the project's `.env`, loaded through the public API
//! (`ProjectOptions`: interpolation, merge, resolve, validation) with an empty process
//! environment in a directory of its own. Whatever loads prints as YAML
//! (`Project::to_yaml`, `docker compose config`), and that YAML loads back to the same
//! project — the round trip `to_yaml` promises.
#![no_main]

use cargohold::compose::ProjectOptions;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (file, env) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &b""[..]),
    };
    let Ok(dir) = tempfile::tempdir() else { return };
    let compose = dir.path().join("compose.yaml");
    if std::fs::write(&compose, file).is_err()
        || std::fs::write(dir.path().join(".env"), env).is_err()
    {
        return;
    }
    let load = |path: &std::path::Path| {
        ProjectOptions::new()
            .file(path)
            .project_name("fuzz")
            .environment(Vec::<(String, String)>::new())
            .load()
    };
    let Ok(project) = load(&compose) else { return };
    let yaml = project.to_yaml().expect("a loaded project prints as YAML");
    let resolved = dir.path().join("resolved.yaml");
    std::fs::write(&resolved, &yaml).expect("writing the resolved file");
    let again = load(&resolved).unwrap_or_else(|e| panic!("{e}\n{yaml}"));
    assert!(again == project, "the printed project loads back the same:\n{yaml}");
});
