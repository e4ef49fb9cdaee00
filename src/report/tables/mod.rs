//! The results tables, built from the `metrics.json` files of a results folder, so that every
//! figure in them traces back to a file holding its full configuration: one table per
//! experiment, runs that differ only in their seed in one row (mean ± standard deviation), and
//! the reference table of published figures.
//!
//! A Markdown file holds generated blocks, each between a line naming its table (and, with
//! `runs=TEXT`, only the runs whose folder name contains TEXT, or one of TEXT's comma-separated
//! parts) and an end line:
//!
//! ```text
//! <!-- ppml report: gradient-inversion runs=gradient-inversion-fashion-seed -->
//! (generated)
//! <!-- ppml report: end -->
//! ```
//!
//! `ppml report --markdown FILE` rewrites every block; `--check` fails when one is out of date
//! (CI).

mod audit;
mod cell;
mod federated;
mod global_model;
mod gradient_inversion;
mod mia;
mod reference;
mod train;

use std::path::Path;

pub use crate::report::runs::{Group, Run, TableError, collect_runs, groups};
pub use cell::Summary;
pub(crate) use cell::broken_on_purpose;
pub(crate) use mia::{attacks, privacy_label};
pub(crate) use train::model_name;

/// Start of a block's first line, followed by its table's name.
pub const BEGIN: &str = "<!-- ppml report: ";
/// A block's last line.
pub const END: &str = "<!-- ppml report: end -->";

/// A table `ppml report` generates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    /// Every experiment's table that has runs, each under a heading.
    All,
    /// Training runs, non-private and DP-SGD.
    Train,
    /// Membership inference with the DP ceilings.
    Mia,
    /// The canary audits of membership runs.
    MiaCanaries,
    /// Gradient inversion per batch, aggregation, attack and ε.
    GradientInversion,
    /// The imprint attack per federation, bins, ε and noise, beside the formula.
    GlobalModel,
    /// The global model's accuracy under the DP aggregate.
    GlobalModelTraining,
    /// Audits: empirical against claimed ε.
    Audit,
    /// Federated learning runs.
    Federated,
    /// Published figures beside measured ones.
    Reference,
}

/// Every table's name, in the order `all` prints them.
const NAMES: [(&str, Table); 10] = [
    ("all", Table::All),
    ("reference", Table::Reference),
    ("train", Table::Train),
    ("federated", Table::Federated),
    ("mia", Table::Mia),
    ("mia-canaries", Table::MiaCanaries),
    ("gradient-inversion", Table::GradientInversion),
    ("global-model", Table::GlobalModel),
    ("global-model-training", Table::GlobalModelTraining),
    ("audit", Table::Audit),
];

impl Table {
    /// The table of this name.
    pub fn named(name: &str) -> Option<Table> {
        NAMES.iter().find(|(n, _)| *n == name).map(|&(_, t)| t)
    }

    /// The experiment whose runs it tabulates (`None`: several).
    fn experiment(self) -> Option<&'static str> {
        match self {
            Table::Train => Some("train"),
            Table::Mia | Table::MiaCanaries => Some("mia"),
            Table::GradientInversion => Some("gradient-inversion"),
            Table::GlobalModel | Table::GlobalModelTraining => Some("global-model-attack"),
            Table::Audit => Some("audit"),
            Table::Federated => Some("federated"),
            Table::All | Table::Reference => None,
        }
    }

    /// The Markdown of this table over `runs`.
    pub fn render(self, runs: &[&Run]) -> String {
        match self {
            Table::All => all(runs),
            Table::Train => train::train_table(runs),
            Table::Mia => mia::mia_table(runs),
            Table::MiaCanaries => mia::canary_table(runs),
            Table::GradientInversion => gradient_inversion::gradient_inversion_table(runs),
            Table::GlobalModel => global_model::global_model_table(runs),
            Table::GlobalModelTraining => global_model::global_model_training_table(runs),
            Table::Audit => audit::audit_table(runs),
            Table::Federated => federated::federated_table(runs),
            Table::Reference => reference::reference_table(runs),
        }
    }
}

/// Headings of [`Table::All`]'s sections.
fn heading(table: Table) -> &'static str {
    match table {
        Table::Reference => "The reference reproduction's figures beside ppml's",
        Table::Train => "Training (non-private and DP-SGD)",
        Table::Federated => "Federated learning",
        Table::Mia => "Membership inference",
        Table::MiaCanaries => "Membership inference: canary audits",
        Table::GradientInversion => "Gradient inversion",
        Table::GlobalModel => "Global-model (imprint) attack",
        Table::GlobalModelTraining => "Global model accuracy under the DP aggregate",
        Table::Audit => "Privacy audits",
        Table::All => "",
    }
}

/// Every table that has runs, each under a bold heading; numbers over several seeds are
/// mean ± sample standard deviation, with the seed count beside them.
fn all(runs: &[&Run]) -> String {
    let mut out = String::new();
    for &(_, table) in &NAMES[1..] {
        let has_runs = match table.experiment() {
            Some(e) => runs.iter().any(|r| r.experiment() == e),
            None => true,
        };
        let rendered = table.render(runs);
        // A table with its header and rule only (no canary run among the mia runs) is left out.
        if !has_runs || rendered.lines().count() <= 2 {
            continue;
        }
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(&format!("**{}**\n\n{rendered}", heading(table)));
    }
    out
}

/// "49 runs (train: 13, mia: 7, …) in 30 groups of seeds".
pub fn summary(runs: &[Run]) -> String {
    let mut counts: std::collections::BTreeMap<&str, usize> = Default::default();
    for r in runs {
        *counts.entry(r.experiment()).or_default() += 1;
    }
    let refs: Vec<&Run> = runs.iter().collect();
    let groups: usize = counts.keys().map(|e| groups(&refs, e).len()).sum();
    let list: Vec<String> = counts.iter().map(|(e, n)| format!("{e}: {n}")).collect();
    format!(
        "{} runs ({}) in {groups} groups of seeds",
        runs.len(),
        list.join(", ")
    )
}

/// One generated block of a Markdown file: which table, over which runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Block {
    /// The table.
    pub table: Table,
    /// Only runs whose folder name contains this (or one of its comma-separated parts).
    pub runs: Option<String>,
}

impl Block {
    /// Parses what follows [`BEGIN`] on a block's first line (`mia runs=mia-fashion-eps`).
    fn parse(spec: &str) -> Result<Block, String> {
        let mut words = spec.split_whitespace();
        let name = words.next().ok_or("no table named")?;
        let table = Table::named(name).ok_or_else(|| {
            let names: Vec<&str> = NAMES.iter().map(|(n, _)| *n).collect();
            format!("unknown table {name:?} (one of {})", names.join(", "))
        })?;
        let mut runs = None;
        for word in words {
            match word.strip_prefix("runs=") {
                Some(text) if !text.is_empty() => runs = Some(text.to_string()),
                _ => return Err(format!("unknown word {word:?} (only runs=TEXT may follow)")),
            }
        }
        Ok(Block { table, runs })
    }

    /// This block's table over `runs`; an error when it selects no run it could tabulate (a
    /// README pointing at results that are not there).
    pub fn render(&self, runs: &[Run]) -> Result<String, String> {
        let selected: Vec<&Run> = runs
            .iter()
            .filter(|r| {
                self.runs
                    .as_ref()
                    .is_none_or(|t| t.split(',').any(|t| r.name.contains(t)))
            })
            .collect();
        let usable = match self.table.experiment() {
            Some(e) => selected.iter().any(|r| r.experiment() == e),
            None => !selected.is_empty(),
        };
        if !usable {
            return Err(format!(
                "no {} run{} in the results folder",
                self.table.experiment().unwrap_or("ppml"),
                self.runs
                    .as_ref()
                    .map_or(String::new(), |t| format!(" whose folder contains {t:?}"))
            ));
        }
        Ok(self.table.render(&selected))
    }
}

/// `document` with every generated block's lines replaced by `render(block)`, and how many
/// blocks there were. A file without any block, a block without its end line and a block that
/// cannot be rendered are errors naming the file and line.
pub fn splice(
    document: &str,
    file: &Path,
    render: impl Fn(&Block) -> Result<String, String>,
) -> Result<(String, usize), TableError> {
    let error = |line: usize, message: String| TableError::Marker {
        file: file.to_path_buf(),
        line,
        message,
    };
    let mut out = String::with_capacity(document.len());
    let mut lines = document.split_inclusive('\n').enumerate();
    let mut blocks = 0;
    while let Some((i, line)) = lines.next() {
        out.push_str(line);
        let trimmed = line.trim_end();
        let Some(spec) = trimmed
            .strip_prefix(BEGIN)
            .and_then(|rest| rest.strip_suffix("-->"))
        else {
            continue;
        };
        if trimmed == END {
            return Err(error(
                i + 1,
                "an end line without its block's first line".into(),
            ));
        }
        let block = Block::parse(spec).map_err(|m| error(i + 1, m))?;
        let table = render(&block).map_err(|m| error(i + 1, m))?;
        if !line.ends_with('\n') {
            out.push('\n');
        }
        out.push_str(&table);
        // Skip the old table, up to and including the end line.
        loop {
            match lines.next() {
                Some((_, l)) if l.trim_end() == END => {
                    out.push_str(l);
                    break;
                }
                Some(_) => {}
                None => return Err(error(i + 1, format!("no line {END:?} after this block"))),
            }
        }
        blocks += 1;
    }
    if blocks == 0 {
        return Err(TableError::NoMarkers(file.to_path_buf()));
    }
    Ok((out, blocks))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixed(block: &Block) -> Result<String, String> {
        Ok(format!("| {:?} {:?} |\n", block.table, block.runs))
    }

    #[test]
    fn splicing_replaces_only_the_blocks_and_is_idempotent() {
        let doc = format!(
            "intro\n{BEGIN}mia -->\nold\nlines\n{END}\nmiddle\n{BEGIN}audit runs=x-seed -->\n{END}\noutro\n"
        );
        let (once, n) = splice(&doc, Path::new("R.md"), fixed).unwrap();
        assert_eq!(n, 2);
        assert_eq!(
            once,
            format!(
                "intro\n{BEGIN}mia -->\n| Mia None |\n{END}\nmiddle\n{BEGIN}audit runs=x-seed -->\n\
                 | Audit Some(\"x-seed\") |\n{END}\noutro\n"
            )
        );
        assert_eq!(splice(&once, Path::new("R.md"), fixed).unwrap().0, once);
    }

    #[test]
    fn bad_blocks_are_errors_naming_the_line() {
        let bad = |doc: &str| {
            splice(doc, Path::new("R.md"), fixed)
                .unwrap_err()
                .to_string()
        };
        assert!(bad("no blocks\n").contains("no generated block"));
        assert!(bad(&format!("a\n{BEGIN}mia -->\nold\n")).contains("line 2: no line"));
        assert!(bad(&format!("{BEGIN}plots -->\n{END}\n")).contains("unknown table \"plots\""));
        assert!(bad(&format!("{BEGIN}mia seeds=3 -->\n{END}\n")).contains("unknown word"));
        assert!(bad(&format!("{END}\n")).contains("line 1: an end line"));
    }

    #[test]
    fn a_block_selecting_no_run_of_its_experiment_is_an_error() {
        let run = Run {
            name: "train-a".into(),
            metrics: serde_json::json!({"experiment": "train", "config": {}}),
        };
        let runs = [run];
        let block = |spec: &str| Block::parse(spec).unwrap();
        assert!(block("train").render(&runs).is_ok());
        assert!(
            block("train runs=train-b")
                .render(&runs)
                .unwrap_err()
                .contains("\"train-b\"")
        );
        assert!(block("train runs=train-b,in-a").render(&runs).is_ok());
        assert!(
            block("mia")
                .render(&runs)
                .unwrap_err()
                .contains("no mia run")
        );
        assert!(block("reference").render(&runs).is_ok());
    }
}
