//! `acme process new`: scaffolds a process in the platform's fixed shape from the templates in
//! `templates/` (embedded, so the command works from any directory): the workflow module and its
//! unit tests, an activity area when the kind needs one, end-to-end tests that record a history
//! for the replay net, and the catalog lines. Everything is checked and rendered before the first
//! file is written, and a failed write undoes the ones before it.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use minijinja::syntax::SyntaxConfig;
use minijinja::{Environment, UndefinedBehavior, context};

use crate::Outcome;

/// Longest process name: it is a prefix of every workflow id and journal key the process writes.
const MAX_NAME_LEN: usize = 32;

#[derive(Debug, Args)]
#[command(after_help = "Example: acme process new pay-fee --kind member-request")]
pub struct NewArgs {
    /// The process name, kebab-case (e.g. `pay-fee`): its workflow type name, forever
    name: String,
    /// What shape of process to start from
    #[arg(long, value_enum)]
    kind: Kind,
    /// The Cargo workspace to write into [default: the one around the current directory]
    #[arg(long)]
    workspace: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Kind {
    /// One request for one member, keyed by the caller's request id
    MemberRequest,
    /// Set-based work over many rows in chunks, keyed by a batch id
    Bulk,
    /// Started by a weekday schedule, keyed by the business date
    Scheduled,
}

/// One file a kind generates: the template (name, source) and where it goes.
struct Template {
    name: &'static str,
    source: &'static str,
    target: fn(&Names) -> String,
}

macro_rules! template {
    ($kind:literal, $file:literal, $target:expr) => {
        Template {
            name: concat!($kind, "/", $file),
            source: include_str!(concat!("../../templates/", $kind, "/", $file)),
            target: $target,
        }
    };
}

fn workflow_module(names: &Names) -> String {
    format!("workflows/src/{}/mod.rs", names.snake)
}

fn workflow_tests(names: &Names) -> String {
    format!("workflows/src/{}/tests.rs", names.snake)
}

fn activity_area(names: &Names) -> String {
    format!("activities/src/{}.rs", names.snake)
}

fn e2e_tests(names: &Names) -> String {
    format!("worker/tests/e2e/{}.rs", names.snake)
}

impl Kind {
    fn templates(self) -> Vec<Template> {
        match self {
            Kind::MemberRequest => vec![
                template!("member-request", "workflow.rs.j2", workflow_module),
                template!("member-request", "tests.rs.j2", workflow_tests),
                template!("member-request", "e2e.rs.j2", e2e_tests),
            ],
            Kind::Bulk => vec![
                template!("bulk", "workflow.rs.j2", workflow_module),
                template!("bulk", "tests.rs.j2", workflow_tests),
                template!("bulk", "activities.rs.j2", activity_area),
                template!("bulk", "e2e.rs.j2", e2e_tests),
            ],
            Kind::Scheduled => vec![
                template!("scheduled", "workflow.rs.j2", workflow_module),
                template!("scheduled", "tests.rs.j2", workflow_tests),
                template!("scheduled", "activities.rs.j2", activity_area),
                template!("scheduled", "e2e.rs.j2", e2e_tests),
            ],
        }
    }

    /// Whether the kind brings an activity area of its own (registered on the ledger queue).
    fn has_activities(self) -> bool {
        self != Kind::MemberRequest
    }
}

/// The spellings of one process name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    /// `pay-fee`: the process and workflow type name.
    pub kebab: String,
    /// `pay_fee`: the module and file names.
    pub snake: String,
    /// `PayFee`: the workflow struct.
    pub camel: String,
}

/// Words Rust reserves, which cannot name a module.
const KEYWORDS: &[&str] = &[
    "abstract", "as", "async", "await", "become", "box", "break", "const", "continue", "crate",
    "do", "dyn", "else", "enum", "extern", "false", "final", "fn", "for", "gen", "if", "impl",
    "in", "let", "loop", "macro", "match", "mod", "move", "mut", "override", "priv", "pub", "ref",
    "return", "self", "static", "struct", "super", "trait", "true", "try", "type", "typeof",
    "unsafe", "unsized", "use", "virtual", "where", "while", "yield",
];

impl Names {
    /// Checks that `name` is kebab-case: lowercase letters and digits in words joined by single
    /// hyphens, starting with a letter, at most [`MAX_NAME_LEN`] characters.
    pub fn parse(name: &str) -> anyhow::Result<Self> {
        let words: Vec<&str> = name.split('-').collect();
        let kebab = name.len() <= MAX_NAME_LEN
            && name.starts_with(|c: char| c.is_ascii_lowercase())
            && words.iter().all(|word| {
                !word.is_empty()
                    && word
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            });
        if !kebab {
            bail!(
                "{name:?} is not a process name: use kebab-case, lowercase letters and digits in \
                 words joined by single hyphens, starting with a letter, at most {MAX_NAME_LEN} \
                 characters (e.g. pay-fee)"
            );
        }
        let snake = words.join("_");
        if KEYWORDS.contains(&snake.as_str()) {
            bail!("{name:?} is a Rust keyword and cannot name a module; choose another name");
        }
        let camel = words
            .iter()
            .map(|word| {
                let (first, rest) = word.split_at(1);
                format!("{}{rest}", first.to_ascii_uppercase())
            })
            .collect();
        Ok(Self {
            kebab: name.to_owned(),
            snake,
            camel,
        })
    }
}

/// A file as it will be after scaffolding.
#[derive(Debug)]
struct Planned {
    path: PathBuf,
    contents: String,
    /// What was there before, for an edit; `None` for a new file.
    original: Option<String>,
}

pub fn run(args: NewArgs) -> anyhow::Result<Outcome> {
    let root = match args.workspace {
        Some(dir) => checked_workspace(&dir)?,
        None => find_workspace(&std::env::current_dir()?)?,
    };
    let names = Names::parse(&args.name)?;
    let plan = plan(&root, &names, args.kind)?;
    write_all(&plan)?;
    let kind = args
        .kind
        .to_possible_value()
        .map(|value| value.get_name().to_owned())
        .unwrap_or_default();
    let mut report = format!(
        "scaffolded {} (--kind {kind}) in {}:\n",
        names.kebab,
        root.display()
    );
    for file in &plan {
        let verb = if file.original.is_some() {
            "edited "
        } else {
            "created"
        };
        let shown = file.path.strip_prefix(&root).unwrap_or(&file.path);
        writeln!(report, "  {verb} {}", shown.display())?;
    }
    write!(report, "{}", next_steps(&names, args.kind))?;
    print!("{report}");
    Ok(Outcome::Done)
}

fn next_steps(names: &Names, kind: Kind) -> String {
    let Names { kebab, snake, .. } = names;
    let mut steps = format!(
        "next steps:\n\
         1. say what it does: the //! header and DESCRIPTION in workflows/src/{snake}/mod.rs\n\
         2. run its tests; the end-to-end ones record tests/histories/{kebab}/ (commit those):\n\
         \x20  cargo test -p acme-workflows --lib {snake}\n\
         \x20  cargo test -p acme-worker --test e2e {snake}\n\
         3. check it conforms and replays: cargo test -p acme-workflows --test catalog --test replay\n"
    );
    if kind == Kind::Scheduled {
        steps.push_str(&format!(
            "4. create its schedule in each environment from {snake}::schedule (see `acme dealing \
             schedule` for the pattern)\n"
        ));
    }
    steps
}

/// The Cargo workspace holding the process catalog, from `start` upwards.
fn find_workspace(start: &Path) -> anyhow::Result<PathBuf> {
    start
        .ancestors()
        .find(|dir| is_workspace(dir))
        .map(Path::to_path_buf)
        .with_context(|| {
            format!(
                "no ACME workspace (a Cargo workspace with workflows/src/lib.rs) at or above {}; \
                 run this inside one or pass --workspace",
                start.display()
            )
        })
}

fn checked_workspace(dir: &Path) -> anyhow::Result<PathBuf> {
    if is_workspace(dir) {
        Ok(dir.to_path_buf())
    } else {
        bail!(
            "{} is not an ACME workspace: it needs a Cargo.toml with [workspace] and \
             workflows/src/lib.rs",
            dir.display()
        )
    }
}

fn is_workspace(dir: &Path) -> bool {
    dir.join("workflows/src/lib.rs").is_file()
        && std::fs::read_to_string(dir.join("Cargo.toml"))
            .is_ok_and(|manifest| manifest.lines().any(|line| line.trim() == "[workspace]"))
}

/// Checks the name is free and renders every file, writing nothing.
fn plan(root: &Path, names: &Names, kind: Kind) -> anyhow::Result<Vec<Planned>> {
    check_free(root, names, kind)?;
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_syntax(
        SyntaxConfig::builder()
            .keep_trailing_newline(true)
            .build()?,
    );
    let templates = kind.templates();
    for template in &templates {
        env.add_template(template.name, template.source)?;
        if contains_word(template.source, &names.camel) {
            bail!(
                "{:?} would name its workflow {}, which the {} template already uses; choose \
                 another name",
                names.kebab,
                names.camel,
                template.name
            );
        }
    }
    let values = context! { name => &names.kebab, snake => &names.snake, camel => &names.camel };
    let mut plan = Vec::new();
    for template in &templates {
        let contents = env
            .get_template(template.name)?
            .render(&values)
            .with_context(|| format!("rendering template {}", template.name))?;
        plan.push(Planned {
            path: root.join((template.target)(names)),
            contents,
            original: None,
        });
    }
    let catalog = root.join("workflows/src/lib.rs");
    let text = read(&catalog)?;
    let text = insert_sorted(&text, "", is_module, &format!("pub mod {};", names.snake))
        .context("workflows/src/lib.rs: the process modules")?;
    let text = insert_sorted(
        &text,
        "catalog![",
        |line| line.starts_with("    ") && line.ends_with(','),
        &format!("    {}::{},", names.snake, names.camel),
    )
    .context("workflows/src/lib.rs: the catalog![...] list")?;
    plan.push(edit(catalog, text)?);
    let e2e = root.join("worker/tests/e2e/main.rs");
    let text = insert_sorted(
        &read(&e2e)?,
        "mod support;",
        is_module,
        &format!("mod {};", names.snake),
    )
    .context("worker/tests/e2e/main.rs: the test modules after `mod support;`")?;
    plan.push(edit(e2e, text)?);
    if kind.has_activities() {
        let activities = root.join("activities/src/lib.rs");
        let text = insert_sorted(
            &read(&activities)?,
            "",
            is_module,
            &format!("pub mod {};", names.snake),
        )
        .context("activities/src/lib.rs: the activity modules")?;
        let text = insert_sorted(
            &text,
            "pub fn register_ledger_activities",
            |line| {
                line.trim_start()
                    .starts_with("options.register_activities(")
            },
            &format!(
                "    options.register_activities({}::{}Activities::new(ledger.clone()));",
                names.snake, names.camel
            ),
        )
        .context("activities/src/lib.rs: register_ledger_activities")?;
        plan.push(edit(activities, text)?);
    }
    Ok(plan)
}

/// Refuses a name the workspace already uses: in the catalog, as a process name, or for any of
/// the files the kind would create.
fn check_free(root: &Path, names: &Names, kind: Kind) -> anyhow::Result<()> {
    let Names {
        kebab,
        snake,
        camel,
    } = names;
    let catalog = read(&root.join("workflows/src/lib.rs"))?;
    let module_lines = [format!("pub mod {snake};"), format!("mod {snake};")];
    if catalog.lines().any(|line| {
        module_lines.contains(&line.trim().to_owned())
            || line.trim().starts_with(&format!("{snake}::"))
    }) {
        bail!("a module {snake} is already in workflows/src/lib.rs; nothing written");
    }
    let run_name = format!("#[run(name = \"{kebab}\")]");
    let process_name = format!("const NAME: &'static str = \"{kebab}\";");
    for entry in std::fs::read_dir(root.join("workflows/src"))? {
        let module = entry?.path().join("mod.rs");
        // A folder without mod.rs holds no process.
        if let Ok(text) = std::fs::read_to_string(&module)
            && (text.contains(&run_name) || text.contains(&process_name))
        {
            bail!(
                "process {kebab} already exists in {}; nothing written",
                module.display()
            );
        }
    }
    let mut taken = vec![
        root.join("workflows/src").join(snake),
        root.join(format!("workflows/src/{snake}.rs")),
        root.join("tests/histories").join(kebab),
    ];
    taken.extend(
        kind.templates()
            .iter()
            .map(|t| root.join((t.target)(names))),
    );
    if kind.has_activities() {
        taken.push(root.join("activities/src").join(snake));
    }
    if let Some(path) = taken.iter().find(|path| path.exists()) {
        bail!(
            "{kebab} ({camel}) clashes with {}, which exists; nothing written",
            path.display()
        );
    }
    Ok(())
}

fn is_module(line: &str) -> bool {
    let line = line.trim();
    (line.starts_with("pub mod ") || line.starts_with("mod ")) && line.ends_with(';')
}

/// Whether `word` occurs in `text` as a whole identifier.
fn contains_word(text: &str, word: &str) -> bool {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .any(|token| token == word)
}

/// Inserts `line` into the first run of lines that `is_entry` picks after the line containing
/// `after` (from the top if empty), keeping the run sorted (ignoring `pub`).
fn insert_sorted(
    text: &str,
    after: &str,
    is_entry: impl Fn(&str) -> bool,
    line: &str,
) -> anyhow::Result<String> {
    let key = |l: &str| l.trim().trim_start_matches("pub ").to_owned();
    let lines: Vec<&str> = text.lines().collect();
    let start = if after.is_empty() {
        0
    } else {
        1 + lines
            .iter()
            .position(|l| l.contains(after))
            .with_context(|| format!("no line with {after:?}"))?
    };
    let first = start
        + lines[start..]
            .iter()
            .position(|l| is_entry(l))
            .with_context(|| format!("no list to add {:?} to", line.trim()))?;
    let end = first + lines[first..].iter().take_while(|l| is_entry(l)).count();
    if lines[first..end].iter().any(|l| key(l) == key(line)) {
        bail!("{:?} is there already", line.trim());
    }
    let at = (first..end)
        .find(|&i| key(lines[i]) > key(line))
        .unwrap_or(end);
    let mut out: Vec<&str> = lines[..at].to_vec();
    out.push(line);
    out.extend_from_slice(&lines[at..]);
    let mut joined = out.join("\n");
    if text.ends_with('\n') {
        joined.push('\n');
    }
    Ok(joined)
}

fn read(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}

fn edit(path: PathBuf, contents: String) -> anyhow::Result<Planned> {
    let original = read(&path)?;
    Ok(Planned {
        path,
        contents,
        original: Some(original),
    })
}

/// Writes every planned file, then formats the new ones with rustfmt (names of any length stay
/// `cargo fmt` clean). On any failure, removes what was created and restores what was edited.
fn write_all(plan: &[Planned]) -> anyhow::Result<()> {
    let mut created_dirs = Vec::new();
    let result = (|| -> anyhow::Result<()> {
        for file in plan {
            if let Some(dir) = file.path.parent().filter(|dir| !dir.exists()) {
                std::fs::create_dir_all(dir)?;
                created_dirs.push(dir.to_path_buf());
            }
            write_one(file).with_context(|| format!("writing {}", file.path.display()))?;
        }
        rustfmt(
            plan.iter()
                .filter(|f| f.original.is_none())
                .map(|f| f.path.as_path()),
        )
    })();
    if let Err(error) = result {
        for file in plan {
            // Best effort: the error below is what the user must see.
            let _ = match &file.original {
                Some(original) => std::fs::write(&file.path, original),
                None => std::fs::remove_file(&file.path),
            };
        }
        for dir in created_dirs.iter().rev() {
            let _ = std::fs::remove_dir(dir);
        }
        return Err(error.context("nothing was scaffolded (files written so far were removed)"));
    }
    Ok(())
}

fn write_one(file: &Planned) -> std::io::Result<()> {
    use std::io::Write as _;
    if file.original.is_some() {
        return std::fs::write(&file.path, &file.contents);
    }
    // A file that appeared since the checks is never overwritten.
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&file.path)?
        .write_all(file.contents.as_bytes())
}

fn rustfmt<'a>(files: impl Iterator<Item = &'a Path>) -> anyhow::Result<()> {
    let status = std::process::Command::new("rustfmt")
        .args(["--edition", "2024"])
        .args(files)
        .status();
    match status {
        Ok(status) if status.success() => Ok(()),
        Ok(status) => bail!("rustfmt refused the generated code ({status}): a template bug"),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            eprintln!("warning: rustfmt not found; run `cargo fmt` before committing");
            Ok(())
        }
        Err(error) => Err(error).context("running rustfmt"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_kebab_case_and_spelled_three_ways() {
        let names = Names::parse("pay-fee2").unwrap();
        assert_eq!(
            (names.snake.as_str(), names.camel.as_str()),
            ("pay_fee2", "PayFee2")
        );
        let too_long = "a".repeat(MAX_NAME_LEN + 1);
        for bad in [
            "",
            "Pay-fee",
            "pay_fee",
            "pay--fee",
            "-pay",
            "pay-",
            "2pay",
            "pay fee",
            "péage",
            "match",
            too_long.as_str(),
        ] {
            assert!(Names::parse(bad).is_err(), "{bad:?} was accepted");
        }
        assert!(Names::parse(&"a".repeat(MAX_NAME_LEN)).is_ok());
    }

    /// A throwaway workspace with the catalog files the scaffolder edits.
    fn workspace() -> PathBuf {
        let root = std::env::temp_dir().join(format!(
            "acme-scaffold-{}-{}",
            std::process::id(),
            std::thread::current()
                .name()
                .unwrap_or("t")
                .replace(':', "_")
        ));
        let _ = std::fs::remove_dir_all(&root);
        let files = [
            ("Cargo.toml", "[workspace]\n"),
            (
                "workflows/src/lib.rs",
                "pub mod invest_cash;\nmod request;\n\ncatalog![\n    invest_cash::InvestCash,\n];\n",
            ),
            (
                "workflows/src/invest_cash/mod.rs",
                "impl Process for InvestCash {\n    const NAME: &'static str = \"invest-cash\";\n}\n",
            ),
            (
                "worker/tests/e2e/main.rs",
                "mod support;\n\nmod invest_cash;\n",
            ),
            // Histories left by a process since removed.
            ("tests/histories/old-run/happy-path.json", "{}"),
            (
                "activities/src/lib.rs",
                "pub mod ledger;\npub mod trades;\n\npub fn register_ledger_activities() {\n    options.register_activities(ledger::LedgerActivities::new(ledger.clone()));\n}\n",
            ),
        ];
        for (path, text) in files {
            let path = root.join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        root
    }

    fn snapshot(root: &Path) -> Vec<(PathBuf, String)> {
        let mut files = Vec::new();
        let mut dirs = vec![root.to_path_buf()];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    dirs.push(path);
                } else {
                    files.push((path.clone(), std::fs::read_to_string(&path).unwrap()));
                }
            }
        }
        files.sort();
        files
    }

    #[test]
    fn a_clashing_or_invalid_name_is_refused_and_nothing_is_written() {
        let root = workspace();
        let before = snapshot(&root);
        for (name, kind, reason) in [
            (
                "invest-cash",
                Kind::MemberRequest,
                "already in workflows/src/lib.rs",
            ),
            ("request", Kind::Bulk, "already in workflows/src/lib.rs"),
            ("old-run", Kind::Scheduled, "clashes with"),
            ("trades", Kind::Bulk, "is there already"),
            ("ledger", Kind::Bulk, "template already uses"),
            ("input", Kind::MemberRequest, "template already uses"),
            ("Bad_Name", Kind::Scheduled, "not a process name"),
        ] {
            let error = Names::parse(name)
                .and_then(|names| plan(&root, &names, kind))
                .unwrap_err();
            assert!(format!("{error:#}").contains(reason), "{name}: {error:#}");
        }
        assert_eq!(snapshot(&root), before);
        std::fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn a_new_process_gets_its_catalog_lines_in_alphabetical_order() {
        let root = workspace();
        let plan = plan(&root, &Names::parse("audit-pots").unwrap(), Kind::Bulk).unwrap();
        let contents = |path: &str| {
            plan.iter()
                .find(|f| f.path == root.join(path))
                .map(|f| f.contents.clone())
                .unwrap()
        };
        assert_eq!(
            contents("workflows/src/lib.rs"),
            "pub mod audit_pots;\npub mod invest_cash;\nmod request;\n\ncatalog![\n    audit_pots::AuditPots,\n    invest_cash::InvestCash,\n];\n"
        );
        assert_eq!(
            contents("worker/tests/e2e/main.rs"),
            "mod support;\n\nmod audit_pots;\nmod invest_cash;\n"
        );
        assert!(contents("activities/src/lib.rs").contains(
            "    options.register_activities(audit_pots::AuditPotsActivities::new(ledger.clone()));\n    options.register_activities(ledger::"
        ));
        assert!(
            contents("workflows/src/audit_pots/mod.rs")
                .contains("const NAME: &'static str = \"audit-pots\";")
        );
        assert!(find_workspace(&root.join("workflows/src")).is_ok_and(|found| found == root));
        std::fs::remove_dir_all(root).unwrap();
    }
}
