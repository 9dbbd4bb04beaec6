//! What the machine was doing during a measurement, from `/proc`: CPU time and resident
//! memory of processes, how busy all CPUs were, the load average.

use crate::BoxError;

/// Clock ticks per second, from the auxiliary vector (`AT_CLKTCK`), so no libc call is needed.
pub fn clock_ticks_per_second() -> u64 {
    const AT_CLKTCK: u64 = 17;
    let Ok(auxv) = std::fs::read("/proc/self/auxv") else {
        return 100;
    };
    auxv.chunks_exact(16)
        .filter_map(|entry| {
            let key = u64::from_ne_bytes(entry[..8].try_into().ok()?);
            let value = u64::from_ne_bytes(entry[8..].try_into().ok()?);
            (key == AT_CLKTCK && value > 0).then_some(value)
        })
        .next()
        .unwrap_or(100)
}

/// User + system CPU of a whole process (every thread), in clock ticks; `pid` 0 is this one.
pub fn cpu_ticks(pid: u32) -> Result<u64, BoxError> {
    let path = if pid == 0 {
        "/proc/self/stat".to_owned()
    } else {
        format!("/proc/{pid}/stat")
    };
    let stat = std::fs::read_to_string(&path).map_err(|e| format!("cannot read {path}: {e}"))?;
    // The command name may hold spaces and parentheses; the fields start after the last ')'.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .ok_or_else(|| format!("{path}: unexpected format"))?;
    // After the name come state (field 3) … utime (field 14) and stime (field 15).
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |i: usize| -> Result<u64, BoxError> {
        Ok(fields
            .get(i)
            .ok_or_else(|| format!("{path}: too few fields"))?
            .parse()?)
    };
    Ok(field(11)? + field(12)?)
}

/// All CPUs together since boot, in ticks: (busy, total). Busy is everything but idle and
/// I/O wait.
pub fn machine_ticks() -> Result<(u64, u64), BoxError> {
    let stat = std::fs::read_to_string("/proc/stat")?;
    let line = stat
        .lines()
        .find(|l| l.starts_with("cpu "))
        .ok_or("/proc/stat has no cpu line")?;
    let values: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(str::parse)
        .collect::<Result<_, _>>()?;
    let total: u64 = values.iter().take(8).sum();
    let idle = values.get(3).copied().unwrap_or(0) + values.get(4).copied().unwrap_or(0);
    Ok((total.saturating_sub(idle), total))
}

/// Peak resident memory of this process, in kB (`VmHWM`); 0 when it cannot be read.
pub fn peak_rss_kb() -> u64 {
    status_kb(0, "VmHWM:")
}

/// Resident memory of a process now, in kB (`VmRSS`); `pid` 0 is this one; 0 when it cannot
/// be read.
pub fn rss_kb(pid: u32) -> u64 {
    status_kb(pid, "VmRSS:")
}

/// A `kB` line of `/proc/<pid>/status`.
fn status_kb(pid: u32, field: &str) -> u64 {
    let path = if pid == 0 {
        "/proc/self/status".to_owned()
    } else {
        format!("/proc/{pid}/status")
    };
    std::fs::read_to_string(path)
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1).map(str::to_owned))
        })
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// The 1-minute load average.
pub fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
        .unwrap_or(f64::NAN)
}

/// How many CPUs this process may run on.
pub fn cpus() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
}

/// CPU use over a measured window: of chosen processes, of this process and of the machine.
#[derive(Debug)]
pub struct CpuWindow {
    pids: Vec<u32>,
    servers: u64,
    own: u64,
    machine: (u64, u64),
}

/// What a [`CpuWindow`] measured, in milliseconds of CPU and percent of all CPUs.
#[derive(Debug, Clone, Copy)]
pub struct CpuUse {
    pub servers_ms: f64,
    pub own_ms: f64,
    /// Busy share of all CPUs of the machine (every process, not only ours).
    pub machine_busy_pct: f64,
}

impl CpuWindow {
    pub fn start(pids: &[u32]) -> Result<Self, BoxError> {
        Ok(Self {
            pids: pids.to_vec(),
            servers: sum_ticks(pids)?,
            own: cpu_ticks(0)?,
            machine: machine_ticks()?,
        })
    }

    pub fn stop(&self) -> Result<CpuUse, BoxError> {
        let ms_per_tick = 1000.0 / clock_ticks_per_second() as f64;
        let (busy, total) = machine_ticks()?;
        let d_total = total.saturating_sub(self.machine.1).max(1);
        let d_busy = busy.saturating_sub(self.machine.0);
        Ok(CpuUse {
            servers_ms: sum_ticks(&self.pids)?.saturating_sub(self.servers) as f64 * ms_per_tick,
            own_ms: cpu_ticks(0)?.saturating_sub(self.own) as f64 * ms_per_tick,
            machine_busy_pct: 100.0 * d_busy as f64 / d_total as f64,
        })
    }
}

fn sum_ticks(pids: &[u32]) -> Result<u64, BoxError> {
    pids.iter().map(|p| cpu_ticks(*p)).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resident_memory_is_read_and_never_above_its_peak() {
        let now = rss_kb(0);
        assert!(now > 0);
        assert!(peak_rss_kb() >= now);
        assert_eq!(rss_kb(u32::MAX), 0, "no such process");
    }
}
