//! CRI pod start with the runtime example's handler vs runc's (issue 11's benchmark; a
//! `[[bench]]` with `harness = false`, driven by `benches/cri-compare.sh`).
//!
//! ```text
//! criloop [-n N] [--warmup W] [--out DIR]
//! ```
//! One private containerd (tests/cri/containerd.rs: the README's config snippet, handlers
//! `cargohold` and `runc`), then N iterations, each timing for both handlers, in alternating
//! order, a pod start as the kubelet makes it: RunPodSandbox (host network) +
//! CreateContainer + StartContainer of `sleep`; the pod is then stopped and removed
//! (untimed). Prints min, median, p99 and max per handler, and the ratio of the medians and
//! of the p99s (cargohold / runc; the issue's target: <= 0.8x). Raw samples (ms, one a line)
//! go to DIR/cargohold.ms and DIR/runc.ms with `--out`. Under `cargo bench` (a `--bench`
//! argument) it prints a note and exits: it needs root and containerd.
//!
//! The runtime binary is `CARGOHOLD_RUNTIME_BIN` (the script passes the release build), else
//! `target/<profile>/examples/runtime`.

#[path = "../tests/cri/containerd.rs"]
mod containerd;

use std::time::{Duration, Instant};

use containerd::{image_spec, Containerd, Options, BUSYBOX_IMAGE};
use k8s_cri::v1::{ContainerConfig, ContainerMetadata};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--bench") {
        eprintln!("criloop: run it through benches/cri-compare.sh (root, containerd)");
        return;
    }
    let opt = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let n: usize = opt("-n").map_or(20, |v| v.parse().expect("-n N"));
    let warmup: usize = opt("--warmup").map_or(2, |v| v.parse().expect("--warmup W"));
    let out = opt("--out");

    let ctd = Containerd::start(&Options::default());
    let handlers = ["cargohold", "runc"];
    let mut samples: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
    for i in 0..warmup + n {
        let order = if i % 2 == 0 { [0, 1] } else { [1, 0] };
        for h in order {
            let ms = pod_start(&ctd, handlers[h], i);
            if i >= warmup {
                samples[h].push(ms);
            }
        }
    }
    println!("CRI pod start (RunPodSandbox + CreateContainer + StartContainer), N={n}, ms");
    println!(
        "{:<10} {:>8} {:>8} {:>8} {:>8}",
        "handler", "min", "median", "p99", "max"
    );
    let mut med = [0.0; 2];
    let mut p99 = [0.0; 2];
    for (h, s) in samples.iter_mut().enumerate() {
        s.sort_by(|a, b| a.partial_cmp(b).unwrap());
        med[h] = percentile(s, 50.0);
        p99[h] = percentile(s, 99.0);
        println!(
            "{:<10} {:>8.1} {:>8.1} {:>8.1} {:>8.1}",
            handlers[h],
            s[0],
            med[h],
            p99[h],
            s[s.len() - 1]
        );
        if let Some(dir) = &out {
            std::fs::create_dir_all(dir).unwrap();
            let text: String = s.iter().map(|v| format!("{v:.3}\n")).collect();
            std::fs::write(format!("{dir}/{}.ms", handlers[h]), text).unwrap();
        }
    }
    println!(
        "ratio cargohold/runc: median {:.2}x, p99 {:.2}x (target: median <= 0.8x)",
        med[0] / med[1],
        p99[0] / p99[1]
    );
}

/// Times one pod start with `handler`, then removes the pod (untimed); milliseconds.
fn pod_start(ctd: &Containerd, handler: &str, i: usize) -> f64 {
    let pod_config = ctd.pod_config(&format!("bench-{handler}-{i}"), false);
    let config = ContainerConfig {
        metadata: Some(ContainerMetadata {
            name: "sleep".into(),
            attempt: 0,
        }),
        image: Some(image_spec(BUSYBOX_IMAGE)),
        command: vec!["sleep".into(), "600".into()],
        log_path: "sleep/0.log".into(),
        ..Default::default()
    };
    let t = Instant::now();
    let pod = ctd.run_pod(&pod_config, handler);
    let ctr = ctd.create_container(&pod, &pod_config, config);
    ctd.start_container(&ctr);
    let elapsed = t.elapsed();
    ctd.remove_pod(&pod);
    ms(elapsed)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The `p`th percentile of sorted `s` (nearest rank).
fn percentile(s: &[f64], p: f64) -> f64 {
    let rank = ((p / 100.0) * s.len() as f64).ceil() as usize;
    s[rank.clamp(1, s.len()) - 1]
}
