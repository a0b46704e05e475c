//! How many CPUs this process may really use: the smaller of its CPU affinity and its cgroup CPU
//! quota (`cpu.max` on cgroup v2, `cpu.cfs_quota_us / cpu.cfs_period_us` on v1), rounded up.
//! `$(nproc)` in a container counts affinity only and oversubscribes a CPU-limited pod.

use std::path::Path;

/// The CPU allowance, at least 1.
pub fn allowance() -> usize {
    let affinity = affinity_count().unwrap_or_else(|| {
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
    });
    let quota = cgroup_quota(Path::new("/"));
    quota.map_or(affinity, |q| q.min(affinity)).max(1)
}

fn affinity_count() -> Option<usize> {
    let set = nix::sched::sched_getaffinity(nix::unistd::Pid::from_raw(0)).ok()?;
    let count = (0..nix::sched::CpuSet::count())
        .filter(|cpu| set.is_set(*cpu).unwrap_or(false))
        .count();
    (count > 0).then_some(count)
}

/// The quota of this process's cgroup, looked up under `root` (a test passes a fake tree).
fn cgroup_quota(root: &Path) -> Option<usize> {
    let membership = std::fs::read_to_string(root.join("proc/self/cgroup")).ok()?;
    for line in membership.lines() {
        // v2: "0::/path"; v1: "N:cpu,cpuacct:/path".
        let mut parts = line.splitn(3, ':');
        let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        let path = path.trim_start_matches('/');
        if controllers.is_empty() {
            let dir = root.join("sys/fs/cgroup").join(path);
            if let Some(q) = read(&dir.join("cpu.max")).and_then(|t| parse_cpu_max(&t)) {
                return Some(q);
            }
        } else if controllers.split(',').any(|c| c == "cpu") {
            for base in ["sys/fs/cgroup/cpu,cpuacct", "sys/fs/cgroup/cpu"] {
                let dir = root.join(base).join(path);
                let quota = read(&dir.join("cpu.cfs_quota_us"));
                let period = read(&dir.join("cpu.cfs_period_us"));
                if let (Some(q), Some(p)) = (quota, period) {
                    return parse_v1(&q, &p);
                }
            }
        }
    }
    None
}

fn read(path: &Path) -> Option<String> {
    std::fs::read_to_string(path).ok()
}

/// `cpu.max`: "max 100000" (no limit) or "250000 100000" (2.5 CPUs -> 3).
fn parse_cpu_max(text: &str) -> Option<usize> {
    let mut fields = text.split_whitespace();
    let quota = fields.next()?;
    let period: u64 = fields.next()?.parse().ok()?;
    if quota == "max" || period == 0 {
        return None;
    }
    let quota: u64 = quota.parse().ok()?;
    Some(quota.div_ceil(period) as usize)
}

fn parse_v1(quota: &str, period: &str) -> Option<usize> {
    let quota: i64 = quota.trim().parse().ok()?;
    let period: i64 = period.trim().parse().ok()?;
    if quota <= 0 || period <= 0 {
        return None;
    }
    Some((quota as u64).div_ceil(period as u64) as usize)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn cpu_max_rounds_quotas_up() {
        assert_eq!(parse_cpu_max("max 100000\n"), None);
        assert_eq!(parse_cpu_max("200000 100000"), Some(2));
        assert_eq!(parse_cpu_max("250000 100000"), Some(3));
        assert_eq!(parse_cpu_max("50000 100000"), Some(1));
        assert_eq!(parse_v1("-1", "100000"), None);
        assert_eq!(parse_v1("150000", "100000"), Some(2));
    }

    #[test]
    fn reads_v2_and_v1_trees() {
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        std::fs::create_dir_all(r.join("proc/self")).unwrap();
        std::fs::create_dir_all(r.join("sys/fs/cgroup/kubepods/pod1")).unwrap();
        std::fs::write(r.join("proc/self/cgroup"), "0::/kubepods/pod1\n").unwrap();
        std::fs::write(
            r.join("sys/fs/cgroup/kubepods/pod1/cpu.max"),
            "400000 100000\n",
        )
        .unwrap();
        assert_eq!(cgroup_quota(r), Some(4));

        let v1 = tempfile::tempdir().unwrap();
        let r = v1.path();
        std::fs::create_dir_all(r.join("proc/self")).unwrap();
        std::fs::create_dir_all(r.join("sys/fs/cgroup/cpu,cpuacct/docker/abc")).unwrap();
        std::fs::write(
            r.join("proc/self/cgroup"),
            "5:memory:/docker/abc\n4:cpu,cpuacct:/docker/abc\n",
        )
        .unwrap();
        std::fs::write(
            r.join("sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_quota_us"),
            "100000\n",
        )
        .unwrap();
        std::fs::write(
            r.join("sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_period_us"),
            "100000\n",
        )
        .unwrap();
        assert_eq!(cgroup_quota(r), Some(1));
    }

    #[test]
    fn this_machine_has_an_allowance() {
        let n = allowance();
        assert!((1..=4096).contains(&n));
    }
}
