//! What every benchmark hands to `bash .ci/bench`: its figures as one Markdown block, printed
//! between marker lines so that the script can lift it out of the benchmark's output and write
//! it into BENCHMARKS.md. The benchmark still prints whatever else it likes around it.
#![allow(clippy::print_stdout)] // printing the report is what it is for

/// One benchmark's part of the report.
#[derive(Debug)]
pub struct Report {
    title: String,
    command: String,
    body: Vec<String>,
}

/// The marker lines around a block (HTML comments: invisible in the rendered Markdown).
pub const BEGIN: &str = "<!-- bench report -->";
pub const END: &str = "<!-- end of bench report -->";

impl Report {
    /// `command`: how to run this benchmark alone.
    pub fn new(title: &str, command: &str) -> Report {
        Report {
            title: title.to_owned(),
            command: command.to_owned(),
            body: Vec::new(),
        }
    }

    /// A line of the block, printed at once as well (a long benchmark shows its progress).
    pub fn line(&mut self, line: impl Into<String>) {
        let line = line.into();
        println!("{line}");
        self.body.push(line);
    }

    /// Prints the block between the markers.
    pub fn finish(self) {
        println!("\n{BEGIN}");
        println!("### {}\n", self.title);
        println!("`{}`\n", self.command);
        for line in &self.body {
            println!("{line}");
        }
        println!("{END}");
    }
}

/// The value at quantile `q` (0..=1) of `sorted` (ascending), nearest rank; 0 for none.
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// The peak resident memory, in MB, of this process (`VmHWM`).
pub fn peak_rss_mb() -> f64 {
    crate::peak_rss_kib() as f64 / 1024.0
}

/// The peak resident memory, in MB, of a process by pid, while it runs.
pub fn peak_rss_mb_of(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map(|kib| kib / 1024.0)
}

/// The largest peak resident memory, in MB, of the child processes this process has waited
/// for (`getrusage(RUSAGE_CHILDREN)`): a baseline program's memory.
#[allow(unsafe_code)]
pub fn children_peak_rss_mb() -> f64 {
    // SAFETY: getrusage writes into the zeroed struct it is given and nothing else.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage);
        usage
    };
    usage.ru_maxrss as f64 / 1024.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(quantile(&v, 0.5), 50.0);
        assert_eq!(quantile(&v, 0.99), 99.0);
        assert_eq!(quantile(&v, 1.0), 100.0);
        assert_eq!(quantile(&[7.0], 0.99), 7.0);
        assert_eq!(quantile(&[], 0.5), 0.0);
    }
}
