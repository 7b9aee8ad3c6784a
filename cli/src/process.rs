//! `acme process`: what the catalog holds, and scaffolding a new process.

use clap::Subcommand;

use crate::output::{self, Format};
use crate::{Outcome, scaffold};

#[derive(Debug, Subcommand)]
pub enum ProcessCommand {
    /// The catalog: every process the workers run, with its steps, input's fields, signals and
    /// queries
    #[command(after_help = "Example: acme process list --output json")]
    List {
        #[arg(long, value_enum, default_value_t)]
        output: Format,
    },
    /// Scaffold a new process: its folder under processes/ and the catalog line (see
    /// docs/processes.md)
    New(scaffold::NewArgs),
}

pub fn run(command: ProcessCommand) -> anyhow::Result<Outcome> {
    match command {
        ProcessCommand::New(args) => scaffold::run(args),
        ProcessCommand::List { output } => {
            let processes = acme_workflows::processes();
            match output {
                Format::Json => output::json(&processes)?,
                Format::Table => {
                    let mut table = output::table(&[
                        "process",
                        "what it does",
                        "steps",
                        "input",
                        "signals",
                        "queries",
                    ]);
                    for process in &processes {
                        let fields = process
                            .input_schema
                            .get("properties")
                            .and_then(|p| p.as_object())
                            .map(|p| p.keys().cloned().collect::<Vec<_>>().join(", "))
                            .unwrap_or_default();
                        table.add_row(vec![
                            process.name.to_owned(),
                            process.description.to_owned(),
                            steps(process),
                            fields,
                            process.signal_names().join(", "),
                            process.queries.join(", "),
                        ]);
                    }
                    println!("{table}");
                    println!("task queues: acme (workflows), acme.ledger, acme.external");
                }
            }
            Ok(Outcome::Done)
        }
    }
}

/// The steps in order, one line each, the pivot marked: `reserve-cash (undo: reverse-cash)`.
fn steps(process: &acme_sdk::ProcessInfo) -> String {
    process
        .steps
        .iter()
        .map(|step| match &step.undo {
            acme_sdk::Undo::Nothing => step.name.to_owned(),
            acme_sdk::Undo::By { name, .. } => format!("{} (undo: {name})", step.name),
            acme_sdk::Undo::Pivot { .. } => format!("{} (pivot)", step.name),
        })
        .collect::<Vec<_>>()
        .join("\n")
}
