//! Hot paths of the image layer: blob hashing (sha2 as this crate builds it: SHA-NI when
//! the CPU has it), writing a verified blob into the store, and unpacking a layer
//! (gzip inflate + tar) into a fresh tree.
//!
//! `cargo bench --bench image`. The side-by-side comparison with other tools is
//! `benches/pull.sh`.

use std::fs;
use std::path::Path;

use cargohold::oci_spec::image::Config;
use cargohold::{Engine, Image, Images, Reference};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use sha2::Digest as _;

/// 32 MiB of file content that compresses like binaries do: the machine's own libraries.
fn binary_like(len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len);
    let mut stack = vec![Path::new("/usr/lib").to_owned()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = fs::read_dir(&d) else { continue };
        let mut entries: Vec<_> = rd.flatten().map(|e| e.path()).collect();
        entries.sort();
        for p in entries {
            let Ok(m) = fs::symlink_metadata(&p) else {
                continue;
            };
            if m.is_dir() {
                stack.push(p);
            } else if m.is_file() {
                if let Ok(b) = fs::read(&p) {
                    out.extend_from_slice(&b[..b.len().min(len - out.len())]);
                    if out.len() == len {
                        return out;
                    }
                }
            }
        }
    }
    out.resize(len, 0);
    out
}

fn hashing(c: &mut Criterion) {
    let data = binary_like(32 << 20);
    let mut g = c.benchmark_group("hash");
    g.throughput(Throughput::Bytes(data.len() as u64));
    g.bench_function("sha256 32MiB", |b| b.iter(|| sha2::Sha256::digest(&data)));
    g.finish();

    // Blobs into the store: `load` streams each file of a docker-archive into a blob
    // (hashed while written, fsynced, renamed), here one 32 MiB uncompressed layer.
    let root = tempfile::tempdir().unwrap();
    let src = Engine::open(root.path().join("src")).unwrap();
    let (_, r) = image(&src.images());
    let mut archive = Vec::new();
    src.images()
        .save_docker_archive(std::slice::from_ref(&r), &mut archive)
        .unwrap();
    let dst = Engine::open(root.path().join("dst")).unwrap();
    let mut g = c.benchmark_group("hash");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(archive.len() as u64));
    g.bench_function(
        "load 32MiB docker-archive (hash + write + fsync + rename)",
        |b| b.iter(|| dst.images().load(&archive[..]).unwrap()),
    );
    g.finish();
}

/// An image of one layer: 64 files of 512 KiB binary-like content in 8 directories.
fn image(store: &Images<'_>) -> (Image, Reference) {
    let src = tempfile::tempdir().unwrap();
    let data = binary_like(32 << 20);
    for (i, chunk) in data.chunks(512 << 10).enumerate() {
        let d = src.path().join(format!("d{}", i % 8));
        fs::create_dir_all(&d).unwrap();
        fs::write(d.join(format!("f{i}")), chunk).unwrap();
    }
    let r: Reference = "bench/unpack:1".parse().unwrap();
    (
        store
            .import_dir(src.path(), &Config::default(), &r)
            .unwrap(),
        r,
    )
}

fn unpack(c: &mut Criterion) {
    let root = tempfile::tempdir().unwrap();
    let store_engine = Engine::open(root.path()).unwrap();
    let store = store_engine.images();
    let (img, r) = image(&store);
    let mut g = c.benchmark_group("unpack");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(img.manifest().layers()[0].size()));
    g.bench_function("flatten 32MiB layer (gzip)", |b| {
        b.iter_batched(
            || tempfile::tempdir_in(root.path()).unwrap(),
            |dest| store.flatten(&r, dest.path()).unwrap(),
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

criterion_group!(benches, hashing, unpack);
criterion_main!(benches);
