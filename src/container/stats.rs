//! Resource usage ([`Stats`], `docker stats`) and processes ([`Top`], `docker top`) of a
//! running container.
//!
//! Memory, CPU and pids come from the container's cgroup (the runtime's
//! [`stats`](crate::runtime::Runtime::stats)); network counters from `/proc/<pid>/net/dev`
//! of the container's init, which shows the interfaces of that process's network
//! namespace; block I/O from the `blkio` (v1) or `io` (v2) controller when the container has
//! a cgroup of its own there. `top` lists the processes of the cgroup from `/proc`.

use std::collections::BTreeMap;
use std::fs;
use std::time::{Duration, SystemTime};

use serde::Serialize;

use super::ready::Liveness;
use super::store::ContainerStore;
use super::{rootfs, Container, RunningContainer};
use crate::sys::cgroup;
use crate::{Error, Result};

/// The host's memory in bytes (`MemTotal` of `/proc/meminfo`): what Docker shows as the
/// memory limit of a container without one (`docker stats`, `/info`'s `MemTotal`).
/// `None` when it cannot be read.
pub fn host_memory() -> Option<u64> {
    let text = fs::read_to_string("/proc/meminfo").ok()?;
    let kb: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb * 1024)
}

/// A snapshot of a container's resource usage, as `docker stats` shows it. Two snapshots
/// give the CPU percentage ([`cpu_percent`](Self::cpu_percent)).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Stats {
    /// When it was taken.
    pub read: SystemTime,
    /// Memory use and limit.
    pub memory: MemoryStats,
    /// CPU time used.
    pub cpu: CpuStats,
    /// Processes (tasks) and their limit.
    pub pids: PidsStats,
    /// Counters of each network interface in the container's namespace, by name.
    pub networks: BTreeMap<String, NetworkStats>,
    /// Bytes read from and written to block devices; `None` when the container has no
    /// `blkio`/`io` cgroup of its own (on cgroup v1 it gets one only with a block I/O
    /// limit; on a hybrid host the `io` controller is not used).
    pub block_io: Option<BlockIoStats>,
}

/// Memory of [`Stats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct MemoryStats {
    /// Bytes in use, page cache included (`memory.usage_in_bytes` / `memory.current`).
    pub usage: u64,
    /// The limit in bytes; `None` when unlimited.
    pub limit: Option<u64>,
    /// The most bytes used at once.
    pub max_usage: u64,
    /// Page cache bytes.
    pub cache: u64,
}

/// CPU of [`Stats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct CpuStats {
    /// All CPU time used, nanoseconds.
    pub total_ns: u64,
    /// In user mode.
    pub user_ns: u64,
    /// In kernel mode.
    pub system_ns: u64,
}

/// Pids of [`Stats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct PidsStats {
    /// Processes and threads now.
    pub current: u64,
    /// The limit; `None` when unlimited.
    pub limit: Option<u64>,
}

/// One interface of [`Stats::networks`] (the columns of `/proc/net/dev`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct NetworkStats {
    /// Bytes received.
    pub rx_bytes: u64,
    /// Packets received.
    pub rx_packets: u64,
    /// Receive errors.
    pub rx_errors: u64,
    /// Received packets dropped.
    pub rx_dropped: u64,
    /// Bytes sent.
    pub tx_bytes: u64,
    /// Packets sent.
    pub tx_packets: u64,
    /// Send errors.
    pub tx_errors: u64,
    /// Packets dropped on sending.
    pub tx_dropped: u64,
}

/// Block I/O of [`Stats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct BlockIoStats {
    /// Bytes read.
    pub read_bytes: u64,
    /// Bytes written.
    pub write_bytes: u64,
}

impl Stats {
    /// The CPU used between `earlier` and this snapshot, in percent of one CPU (as
    /// `docker stats`: 200 % is two CPUs busy); 0 when no time passed.
    pub fn cpu_percent(&self, earlier: &Stats) -> f64 {
        let wall = self
            .read
            .duration_since(earlier.read)
            .unwrap_or_default()
            .as_nanos() as f64;
        if wall == 0.0 {
            return 0.0;
        }
        self.cpu.total_ns.saturating_sub(earlier.cpu.total_ns) as f64 / wall * 100.0
    }

    /// Received and sent bytes summed over the interfaces.
    pub fn network_bytes(&self) -> (u64, u64) {
        self.networks
            .values()
            .fold((0, 0), |(r, t), n| (r + n.rx_bytes, t + n.tx_bytes))
    }
}

/// The processes of a container, as `docker top` lists them: [`titles`](Self::titles) and
/// one row per process ([`rows`](Self::rows)), and the typed [`processes`](Self::processes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Top {
    /// One per process, by host pid.
    pub processes: Vec<TopProcess>,
}

/// One process of [`Top`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct TopProcess {
    /// Its pid on the host.
    pub pid: i32,
    /// Its pid in the container's pid namespace (the last `NSpid` of its status), when the
    /// kernel says.
    pub ns_pid: Option<i32>,
    /// Its parent's pid on the host.
    pub ppid: i32,
    /// Its real user id, as the host sees it.
    pub uid: u32,
    /// That user's name in the container's `/etc/passwd`, else the number.
    pub user: String,
    /// CPU time used (user plus system).
    pub cpu_time: Duration,
    /// Its command line (`[name]` when it has none, as ps shows it).
    pub command: Vec<String>,
}

impl Top {
    /// The column titles of [`rows`](Self::rows): `UID PID PPID NSPID TIME CMD`.
    pub fn titles(&self) -> Vec<String> {
        ["UID", "PID", "PPID", "NSPID", "TIME", "CMD"]
            .map(String::from)
            .to_vec()
    }

    /// One row per process, as `docker top` prints them (TIME as `HH:MM:SS`, CMD the
    /// command line joined by spaces).
    pub fn rows(&self) -> Vec<Vec<String>> {
        self.processes
            .iter()
            .map(|p| {
                let t = p.cpu_time.as_secs();
                vec![
                    p.user.clone(),
                    p.pid.to_string(),
                    p.ppid.to_string(),
                    p.ns_pid.map_or_else(|| "-".into(), |n| n.to_string()),
                    format!("{:02}:{:02}:{:02}", t / 3600, t / 60 % 60, t % 60),
                    p.command.join(" "),
                ]
            })
            .collect()
    }
}

impl RunningContainer {
    /// Its resource usage now: memory, CPU time, pids, network and block I/O
    /// (`docker stats --no-stream`).
    ///
    /// # Errors
    /// [`Error::InvalidState`] unless it runs (or is paused); a cgroup file that cannot be
    /// read.
    pub fn stats(&self) -> Result<Stats> {
        let pid = running_pid(self.liveness()?, &self.name, "get stats of")?;
        stats(&self.store, &self.id, pid)
    }

    /// The processes inside it (`docker top`).
    ///
    /// # Errors
    /// [`Error::InvalidState`] unless it runs (or is paused); its cgroup cannot be read.
    pub fn top(&self) -> Result<Top> {
        running_pid(self.liveness()?, &self.name, "list processes of")?;
        top(&self.store, &self.id)
    }
}

impl Container {
    /// Its resource usage now, as [`RunningContainer::stats`].
    ///
    /// # Errors
    /// As [`RunningContainer::stats`].
    pub fn stats(&self) -> Result<Stats> {
        let pid = running_pid(self.liveness()?, self.name(), "get stats of")?;
        stats(self.store(), self.id(), pid)
    }

    /// The processes inside it, as [`RunningContainer::top`].
    ///
    /// # Errors
    /// As [`RunningContainer::top`].
    pub fn top(&self) -> Result<Top> {
        running_pid(self.liveness()?, self.name(), "list processes of")?;
        top(self.store(), self.id())
    }
}

fn running_pid(l: Liveness, name: &str, op: &'static str) -> Result<i32> {
    let status = match l {
        Liveness::Running(pid) => return Ok(pid),
        Liveness::Starting => "created",
        Liveness::Exited(_) => "exited",
    };
    Err(Error::InvalidState {
        id: name.to_owned(),
        op,
        status: status.into(),
    })
}

fn stats(store: &ContainerStore, id: &str, pid: i32) -> Result<Stats> {
    let cg = store.runtime().stats(id)?;
    let net_dev = format!("/proc/{pid}/net/dev");
    let net = fs::read_to_string(&net_dev)
        .map_err(|e| Error::os("reading network counters of container", &net_dev, e))?;
    let cgroup_file = format!("/proc/{pid}/cgroup");
    let block_io = fs::read_to_string(&cgroup_file)
        .ok()
        .and_then(|c| block_io(&c, &cgroup::hierarchies()));
    Ok(Stats {
        read: SystemTime::now(),
        memory: MemoryStats {
            usage: cg.memory_usage,
            limit: cg.memory_limit,
            max_usage: cg.memory_max_usage,
            cache: cg.memory_cache,
        },
        cpu: CpuStats {
            total_ns: cg.cpu_usage_ns,
            user_ns: cg.cpu_user_ns,
            system_ns: cg.cpu_system_ns,
        },
        pids: PidsStats {
            current: cg.pids_current,
            limit: cg.pids_limit,
        },
        networks: parse_net_dev(&net),
        block_io,
    })
}

/// `/proc/<pid>/net/dev`: two header lines, then `name: rx… tx…` per interface.
fn parse_net_dev(text: &str) -> BTreeMap<String, NetworkStats> {
    let mut out = BTreeMap::new();
    for line in text.lines().skip(2) {
        let Some((name, rest)) = line.split_once(':') else {
            continue;
        };
        let v: Vec<u64> = rest
            .split_whitespace()
            .map(|f| f.parse().unwrap_or(0))
            .collect();
        if v.len() < 16 {
            continue;
        }
        out.insert(
            name.trim().to_owned(),
            NetworkStats {
                rx_bytes: v[0],
                rx_packets: v[1],
                rx_errors: v[2],
                rx_dropped: v[3],
                tx_bytes: v[8],
                tx_packets: v[9],
                tx_errors: v[10],
                tx_dropped: v[11],
            },
        );
    }
    out
}

/// Block I/O from the container's own `blkio` (v1) or `io` (v2) cgroup. `proc_cgroup` is
/// its init's `/proc/<pid>/cgroup`; a controller counts only where the init's cgroup is the
/// one it has for memory (else the path is an ancestor's, with the host's numbers).
fn block_io(proc_cgroup: &str, hiers: &[cgroup::Hierarchy]) -> Option<BlockIoStats> {
    // (controllers, path) per line: "4:blkio:/x", "0::/x".
    let lines: Vec<(&str, &str)> = proc_cgroup
        .lines()
        .filter_map(|l| {
            let mut f = l.splitn(3, ':');
            let _id = f.next()?;
            Some((f.next()?, f.next()?))
        })
        .collect();
    let has = |ctrls: &str, c: &str| ctrls.split(',').any(|x| x == c);
    let v1_memory = lines.iter().find(|(c, _)| has(c, "memory")).map(|l| l.1);
    let unified = lines.iter().find(|(c, _)| c.is_empty()).map(|l| l.1);
    if let Some(mem) = v1_memory {
        let (_, path) = lines.iter().find(|(c, _)| has(c, "blkio"))?;
        if *path != mem {
            return None;
        }
        let h = hiers
            .iter()
            .find(|h| h.controllers.iter().any(|c| c == "blkio"))?;
        let dir = h.mount_point.join(path.trim_start_matches('/'));
        let text = fs::read_to_string(dir.join("blkio.throttle.io_service_bytes_recursive"))
            .or_else(|_| fs::read_to_string(dir.join("blkio.throttle.io_service_bytes")))
            .ok()?;
        return Some(parse_blkio(&text));
    }
    let path = unified?;
    let h = hiers
        .iter()
        .find(|h| h.options.is_empty() && h.controllers.iter().any(|c| c == "io"))?;
    let text = fs::read_to_string(
        h.mount_point
            .join(path.trim_start_matches('/'))
            .join("io.stat"),
    )
    .ok()?;
    Some(parse_io_stat(&text))
}

/// v1 `blkio.throttle.io_service_bytes`: `MAJ:MIN Read N`, `MAJ:MIN Write N`, `Total N`.
fn parse_blkio(text: &str) -> BlockIoStats {
    let mut s = BlockIoStats::default();
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if let [_, op, n] = f[..] {
            let n: u64 = n.parse().unwrap_or(0);
            match op {
                "Read" => s.read_bytes += n,
                "Write" => s.write_bytes += n,
                _ => {}
            }
        }
    }
    s
}

/// v2 `io.stat`: `MAJ:MIN rbytes=N wbytes=N rios=N …` per device.
fn parse_io_stat(text: &str) -> BlockIoStats {
    let mut s = BlockIoStats::default();
    for kv in text.split_whitespace() {
        match kv.split_once('=') {
            Some(("rbytes", n)) => s.read_bytes += n.parse().unwrap_or(0),
            Some(("wbytes", n)) => s.write_bytes += n.parse().unwrap_or(0),
            _ => {}
        }
    }
    s
}

fn top(store: &ContainerStore, id: &str) -> Result<Top> {
    let mut pids = store.runtime().ps(id)?;
    pids.sort_unstable();
    let init = store.runtime().state(id).ok().map(|s| s.pid);
    let passwd = rootfs::read_in(&rootfs::merged(&store.dir(id), init), "/etc/passwd");
    // The unit of utime/stime is USER_HZ, which is 100 on every Linux ABI (the kernel's
    // CONFIG_HZ does not change what /proc reports).
    let tick = Duration::from_millis(10);
    let processes = pids
        .into_iter()
        // A process that exits while we look is skipped.
        .filter_map(|pid| process(pid, &passwd, tick))
        .collect();
    Ok(Top { processes })
}

fn process(pid: i32, passwd: &str, tick: Duration) -> Option<TopProcess> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let cmdline = fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let field = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
            .map(str::trim)
    };
    let uid: u32 = field("Uid")?.split_whitespace().next()?.parse().ok()?;
    let ppid = field("PPid")?.parse().ok()?;
    let ns_pid = field("NSpid").and_then(|s| s.split_whitespace().last()?.parse().ok());
    // Fields after the command's closing parenthesis: state is 3, utime 14, stime 15.
    let rest = stat.get(stat.rfind(')')? + 2..)?;
    let f: Vec<&str> = rest.split(' ').collect();
    let ticks = f.get(11)?.parse::<u32>().ok()? + f.get(12)?.parse::<u32>().ok()?;
    let mut command: Vec<String> = cmdline
        .split(|&b| b == 0)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    while command.last().is_some_and(String::is_empty) {
        command.pop();
    }
    if command.is_empty() {
        command.push(format!("[{}]", field("Name").unwrap_or("?")));
    }
    Some(TopProcess {
        pid,
        ns_pid,
        ppid,
        uid,
        user: user_name(passwd, uid),
        cpu_time: tick * ticks,
        command,
    })
}

/// The name of `uid` in a passwd file, else the number.
fn user_name(passwd: &str, uid: u32) -> String {
    passwd
        .lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() > 2 && f[2].parse() == Ok(uid)).then(|| f[0].to_owned())
        })
        .unwrap_or_else(|| uid.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_memory_is_meminfos_total_in_bytes() {
        let kb: u64 = fs::read_to_string("/proc/meminfo")
            .unwrap()
            .lines()
            .next()
            .unwrap()["MemTotal:".len()..]
            .trim()
            .trim_end_matches(" kB")
            .parse()
            .unwrap();
        assert_eq!(host_memory(), Some(kb * 1024));
    }

    #[test]
    fn net_dev_is_parsed_per_interface() {
        let text = "Inter-|   Receive                                                |  Transmit\n \
            face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n    \
            lo:    1234      12    0    0    0     0          0         0     1234      12    0    0    0     0       0          0\n  \
            eth0: 5000 40 1 2 0 0 0 0 7000 50 3 4 0 0 0 0\n";
        let m = parse_net_dev(text);
        assert_eq!(m.len(), 2);
        assert_eq!(m["lo"].rx_bytes, 1234);
        assert_eq!(m["lo"].tx_packets, 12);
        let e = m["eth0"];
        assert_eq!(
            (e.rx_bytes, e.rx_packets, e.rx_errors, e.rx_dropped),
            (5000, 40, 1, 2)
        );
        assert_eq!(
            (e.tx_bytes, e.tx_packets, e.tx_errors, e.tx_dropped),
            (7000, 50, 3, 4)
        );
    }

    /// A fake cgroup hierarchy in a tempdir whose `file` (below `mount_point`) holds `content`.
    fn hierarchy(
        mount_point: std::path::PathBuf,
        options: &str,
        controllers: &[&str],
        file: &str,
        content: &str,
    ) -> cgroup::Hierarchy {
        let path = mount_point.join(file);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, content).unwrap();
        cgroup::Hierarchy {
            mount_point,
            options: options.into(),
            controllers: controllers.iter().map(|c| c.to_string()).collect(),
        }
    }

    #[test]
    fn block_io_counts_only_the_containers_own_cgroup() {
        let dir = tempfile::tempdir().unwrap();
        let hiers = [hierarchy(
            dir.path().join("blkio"),
            "blkio",
            &["blkio"],
            "c1/blkio.throttle.io_service_bytes_recursive",
            "8:0 Read 4096\n8:0 Write 8192\n8:0 Sync 0\n8:16 Read 1\nTotal 12289\n",
        )];
        let own = "5:memory:/c1\n4:blkio:/c1\n0::/user.slice\n";
        assert_eq!(
            block_io(own, &hiers),
            Some(BlockIoStats {
                read_bytes: 4097,
                write_bytes: 8192
            })
        );
        // blkio at the host's root: not the container's numbers.
        assert_eq!(block_io("5:memory:/c1\n4:blkio:/\n", &hiers), None);

        let hiers = [hierarchy(
            dir.path().join("unified"),
            "",
            &["memory", "io"],
            "c2/io.stat",
            "8:0 rbytes=100 wbytes=200 rios=1 wios=2\n8:16 rbytes=1 wbytes=2\n",
        )];
        assert_eq!(
            block_io("0::/c2\n", &hiers),
            Some(BlockIoStats {
                read_bytes: 101,
                write_bytes: 202
            })
        );
        assert_eq!(block_io("0::/c2\n", &[]), None);
    }

    #[test]
    fn cpu_percent_of_two_snapshots() {
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(100);
        let snap = |t: SystemTime, cpu: u64| Stats {
            read: t,
            memory: MemoryStats::default(),
            cpu: CpuStats {
                total_ns: cpu,
                ..CpuStats::default()
            },
            pids: PidsStats::default(),
            networks: BTreeMap::new(),
            block_io: None,
        };
        let a = snap(t0, 1_000_000_000);
        let b = snap(t0 + Duration::from_millis(500), 1_750_000_000);
        assert!((b.cpu_percent(&a) - 150.0).abs() < 1e-9);
        assert_eq!(a.cpu_percent(&a), 0.0);
    }

    #[test]
    fn top_rows_and_user_names() {
        let passwd = "root:x:0:0:root:/root:/bin/sh\napp:x:1234:1234::/:/bin/sh\n";
        assert_eq!(user_name(passwd, 1234), "app");
        assert_eq!(user_name(passwd, 0), "root");
        assert_eq!(user_name(passwd, 99), "99");
        let top = Top {
            processes: vec![TopProcess {
                pid: 4242,
                ns_pid: Some(1),
                ppid: 4200,
                uid: 0,
                user: "root".into(),
                cpu_time: Duration::from_secs(3725),
                command: vec!["sleep".into(), "100".into()],
            }],
        };
        assert_eq!(top.titles(), ["UID", "PID", "PPID", "NSPID", "TIME", "CMD"]);
        assert_eq!(
            top.rows(),
            [["root", "4242", "4200", "1", "01:02:05", "sleep 100"]]
        );
        // Our own process, read from /proc.
        let me = process(std::process::id() as i32, "", Duration::from_millis(10)).unwrap();
        assert_eq!(me.pid, std::process::id() as i32);
        assert!(me.ns_pid.is_some());
        assert_eq!(me.uid, rustix::process::getuid().as_raw());
        assert!(!me.command.is_empty());
    }
}
