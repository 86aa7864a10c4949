//! Image archives built in memory: tar layers and docker-archives (`docker save` format).

use std::path::Path;

use sha2::Digest as _;

/// `sha256:<hex>` of `b`.
pub fn sha256(b: &[u8]) -> String {
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(b)))
}

/// A tar layer from (path, content) pairs; `None` content makes a directory.
pub fn layer(entries: &[(&str, Option<&[u8]>)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (p, c) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_mtime(1_700_000_000);
        match c {
            Some(data) => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_mode(0o644);
                h.set_size(data.len() as u64);
                b.append_data(&mut h, p, *data).unwrap();
            }
            None => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_mode(0o755);
                h.set_size(0);
                b.append_data(&mut h, p, std::io::empty()).unwrap();
            }
        }
    }
    b.into_inner().unwrap()
}

/// A tar layer of the tree at `dir` (symlinks kept as links).
pub fn dir_layer(dir: &Path) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    b.follow_symlinks(false);
    b.append_dir_all(".", dir).unwrap();
    b.into_inner().unwrap()
}

/// The `config` object of a docker-archive's busybox image: `Cmd ["sh"]`, `Env ["PATH=/bin"]`.
pub fn sh_config() -> serde_json::Value {
    serde_json::json!({"Cmd": ["sh"], "Env": ["PATH=/bin"]})
}

/// A docker-archive holding one image made of `layers` (uncompressed tars), tagged `tag`,
/// whose image config's `config` object is `config` (`Cmd`, `Env`, `Healthcheck`, ...).
pub fn docker_archive(config: serde_json::Value, layers: &[Vec<u8>], tag: &str) -> Vec<u8> {
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64", "os": "linux", "config": config,
        "rootfs": {"type": "layers", "diff_ids": layers.iter().map(|l| sha256(l)).collect::<Vec<_>>()}
    }))
    .unwrap();
    let names: Vec<String> = (0..layers.len())
        .map(|i| format!("l{i}/layer.tar"))
        .collect();
    let manifest = serde_json::to_vec(&serde_json::json!([
        {"Config": "config.json", "RepoTags": [tag], "Layers": names}
    ]))
    .unwrap();
    let mut files: Vec<(&str, Option<&[u8]>)> = vec![("config.json", Some(&config))];
    files.extend(
        names
            .iter()
            .zip(layers)
            .map(|(n, l)| (n.as_str(), Some(&l[..]))),
    );
    files.push(("manifest.json", Some(&manifest)));
    layer(&files)
}
