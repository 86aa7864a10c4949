//! `build --progress=tty` on a terminal: BuildKit's live view drawn by indicatif. A line
//! per step, ` => [stage 2/3] RUN make   1.3s`, its timer running while the step does;
//! under a running step its last output line, ` => => # line`, gone once the step ends;
//! an ended step shows `CACHED` or `ERROR` before its name as BuildKit's view does. When
//! stderr is not a terminal the view in `build.rs` prints the same lines once, unanimated.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use cargohold::BuildEvent;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

/// One step on screen: its line, and the line of its latest output while it runs.
#[derive(Debug)]
struct Shown {
    name: String,
    bar: ProgressBar,
    output: Option<ProgressBar>,
}

/// The live view of a build's steps.
#[derive(Debug)]
pub(crate) struct Live {
    multi: MultiProgress,
    steps: Mutex<HashMap<usize, Shown>>,
}

/// ` => NAME   1.3s`: the name fills the line, the time is right-aligned.
fn step_style() -> ProgressStyle {
    ProgressStyle::with_template(" => {wide_msg} {secs:>6}")
        .expect("a valid template")
        .with_key("secs", |s: &ProgressState, w: &mut dyn std::fmt::Write| {
            let _ = write!(w, "{:.1}s", s.elapsed().as_secs_f64());
        })
}

/// An ended step: its time, frozen, in the prefix.
fn ended_style() -> ProgressStyle {
    ProgressStyle::with_template(" => {wide_msg} {prefix:>6}").expect("a valid template")
}

/// ` => => # LINE`, a running step's latest output.
fn output_style() -> ProgressStyle {
    ProgressStyle::with_template(" => => # {wide_msg}").expect("a valid template")
}

impl Live {
    /// A view drawing on stderr, `None` when stderr is not a terminal.
    pub(crate) fn on_stderr() -> Option<Live> {
        let target = ProgressDrawTarget::stderr();
        if target.is_hidden() {
            return None;
        }
        Some(Live {
            multi: MultiProgress::with_draw_target(target),
            steps: Mutex::new(HashMap::new()),
        })
    }

    /// Draws one event of the build.
    pub(crate) fn event(&self, e: &BuildEvent) {
        let mut steps = self.steps.lock().unwrap_or_else(|p| p.into_inner());
        match e {
            BuildEvent::Started { id, name } => {
                let bar = self
                    .multi
                    .add(ProgressBar::new_spinner().with_style(step_style()));
                bar.set_message(name.clone());
                bar.enable_steady_tick(Duration::from_millis(100));
                let name = name.clone();
                steps.insert(
                    *id,
                    Shown {
                        name,
                        bar,
                        output: None,
                    },
                );
            }
            BuildEvent::Output { id, line } => {
                if let Some(s) = steps.get_mut(id) {
                    let out = s.output.get_or_insert_with(|| {
                        let b = ProgressBar::new_spinner().with_style(output_style());
                        self.multi.insert_after(&s.bar, b)
                    });
                    out.set_message(line.clone());
                }
            }
            BuildEvent::Cached { id } => end(steps.remove(id), "CACHED "),
            BuildEvent::Finished { id, .. } => end(steps.remove(id), ""),
            BuildEvent::Failed { id, .. } => end(steps.remove(id), "ERROR "),
            _ => {}
        }
    }

    /// Ends every step still on screen (a build that returned early) and stops drawing.
    pub(crate) fn finish(&self) {
        let mut steps = self.steps.lock().unwrap_or_else(|p| p.into_inner());
        for (_, s) in steps.drain() {
            end(Some(s), "");
        }
    }
}

/// Ends a step's line, its name after `mark`, its time frozen; its output line goes.
fn end(shown: Option<Shown>, mark: &str) {
    let Some(s) = shown else { return };
    if let Some(out) = s.output {
        out.finish_and_clear();
    }
    let elapsed = if mark == "CACHED " {
        Duration::ZERO
    } else {
        s.bar.elapsed()
    };
    s.bar.disable_steady_tick();
    s.bar.set_style(ended_style());
    s.bar.set_prefix(format!("{:.1}s", elapsed.as_secs_f64()));
    s.bar.finish_with_message(format!("{mark}{}", s.name));
}
