//! Progress of long command-line work (backup, restore, demo data, search reindex), on
//! stderr so that stdout stays for results.
//!
//! On a terminal it is a bar with the count, the rate and the time left; otherwise (a log, a
//! pipe, CI) one plain line every few seconds and one at the end, e.g.
//! `restore: assets 40000/100000 (21000/s)`.
//!
//! ```no_run
//! let progress = shopdb::progress::Progress::new("backup", Some(1_000));
//! progress.stage("assets");
//! progress.add(250);
//! progress.finish();
//! ```

use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How often a plain line is written when stderr is not a terminal.
const PLAIN_EVERY: Duration = Duration::from_secs(5);

/// Counts done items of one piece of work and shows it. Cheap to call for every item.
pub struct Progress {
    task: String,
    /// Nothing is shown (a caller that reports in its own way, tests).
    silent: bool,
    bar: Option<ProgressBar>,
    plain: Mutex<Plain>,
}

/// What the plain-lines form needs between calls.
struct Plain {
    stage: String,
    done: u64,
    total: Option<u64>,
    started: Instant,
    last_line: Instant,
}

impl Progress {
    /// Starts showing `task` (a word such as `backup`), with `total` items when known.
    pub fn new(task: &str, total: Option<u64>) -> Progress {
        let bar = std::io::stderr().is_terminal().then(|| bar(total));
        Progress::with(task, total, bar, false)
    }

    /// Counts without showing anything.
    pub fn silent() -> Progress {
        Progress::with("", None, None, true)
    }

    fn with(task: &str, total: Option<u64>, bar: Option<ProgressBar>, silent: bool) -> Progress {
        Progress {
            task: task.to_string(),
            silent,
            bar,
            plain: Mutex::new(Plain {
                stage: String::new(),
                done: 0,
                total,
                started: Instant::now(),
                last_line: Instant::now(),
            }),
        }
    }

    /// Names what is being done now (a table, a resource); the count goes on.
    pub fn stage(&self, stage: &str) {
        if let Some(bar) = &self.bar {
            bar.set_message(format!("{} {stage}", self.task));
        }
        if let Ok(mut plain) = self.plain.lock() {
            plain.stage = stage.to_string();
        }
    }

    /// Sets or changes how many items there are in all.
    pub fn set_total(&self, total: u64) {
        if let Some(bar) = &self.bar {
            bar.set_style(style(true));
            bar.set_length(total);
        }
        if let Ok(mut plain) = self.plain.lock() {
            plain.total = Some(total);
        }
    }

    /// Counts `n` more items done.
    pub fn add(&self, n: u64) {
        if let Some(bar) = &self.bar {
            bar.inc(n);
        }
        let Ok(mut plain) = self.plain.lock() else {
            return;
        };
        plain.done += n;
        if !self.silent && self.bar.is_none() && plain.last_line.elapsed() >= PLAIN_EVERY {
            plain.last_line = Instant::now();
            eprintln!("{}", plain.line(&self.task));
        }
    }

    /// Items counted so far.
    pub fn done(&self) -> u64 {
        self.plain.lock().map(|p| p.done).unwrap_or_default()
    }

    /// Ends the display with a last line: the count and the time taken.
    pub fn finish(&self) {
        let Ok(plain) = self.plain.lock() else {
            return;
        };
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        if self.silent {
            return;
        }
        eprintln!(
            "{}: {} done in {:.1} s",
            self.task,
            plain.done,
            plain.started.elapsed().as_secs_f64()
        );
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        // Work that failed must not leave a half-drawn bar above its error message.
        if let Some(bar) = &self.bar
            && !bar.is_finished()
        {
            bar.abandon();
        }
    }
}

impl Plain {
    fn line(&self, task: &str) -> String {
        let secs = self.started.elapsed().as_secs_f64().max(0.001);
        let rate = (self.done as f64 / secs).round();
        let count = match self.total {
            Some(total) => format!("{}/{total}", self.done),
            None => self.done.to_string(),
        };
        let stage = if self.stage.is_empty() {
            String::new()
        } else {
            format!(" {}", self.stage)
        };
        format!("{task}:{stage} {count} ({rate}/s)")
    }
}

fn bar(total: Option<u64>) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(total, ProgressDrawTarget::stderr());
    bar.set_style(style(total.is_some()));
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// A bar with count, rate and time left when the total is known; count and rate otherwise.
fn style(with_total: bool) -> ProgressStyle {
    let template = if with_total {
        "{msg} [{bar:30}] {human_pos}/{human_len} ({rate}, {eta} left)"
    } else {
        "{msg} {human_pos} ({rate})"
    };
    ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .with_key(
            "rate",
            |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = write!(w, "{:.0}/s", state.per_sec());
            },
        )
        .progress_chars("=> ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_lines_give_stage_count_total_and_rate() {
        let plain = Plain {
            stage: "assets".into(),
            done: 40,
            total: Some(100),
            started: Instant::now() - Duration::from_secs(2),
            last_line: Instant::now(),
        };
        let line = plain.line("restore");
        assert!(line.starts_with("restore: assets 40/100 ("), "{line}");
        assert!(line.ends_with("/s)"), "{line}");
    }
}
