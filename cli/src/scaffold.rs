//! `acme process new`: scaffolds a process in the platform's fixed shape from the templates in
//! `templates/` (embedded, so the command works from any directory): a folder
//! `processes/<name>/` with the workflow, its unit tests, its own activities when the kind needs
//! them, and end-to-end tests that record a history for the replay net and give the harness its
//! scenario; plus the one catalog line. Everything is checked and rendered before the first file
//! is written, and a failed write undoes the ones before it.

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

/// The folder of a process: everything it owns lives there.
fn folder(names: &Names) -> String {
    format!("processes/{}", names.snake)
}

fn workflow_module(names: &Names) -> String {
    format!("{}/workflow.rs", folder(names))
}

fn workflow_tests(names: &Names) -> String {
    format!("{}/tests.rs", folder(names))
}

fn activity_area(names: &Names) -> String {
    format!("{}/activities.rs", folder(names))
}

fn e2e_tests(names: &Names) -> String {
    format!("{}/e2e.rs", folder(names))
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
    let Names { snake, .. } = names;
    let mut steps = format!(
        "next steps:\n\
         1. say what it does: the //! header, DESCRIPTION and steps() in processes/{snake}/workflow.rs\n\
         2. run its tests; the end-to-end ones record processes/{snake}/histories/ (commit those)\n\
         \x20  and harness_of::{snake} runs it with every activity twice and with failures injected:\n\
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
    check_free(root, names)?;
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
    let catalog = root.join(CATALOG);
    let text = insert_sorted(
        &read(&catalog)?,
        "catalog![",
        |line| line.starts_with("    ") && line.ends_with(','),
        &format!("    {}::{},", names.snake, names.camel),
    )
    .context("workflows/src/lib.rs: the catalog![...] list")?;
    plan.push(edit(catalog, text)?);
    Ok(plan)
}

/// The one file a new process edits: the catalog.
const CATALOG: &str = "workflows/src/lib.rs";

/// Modules the process's files are compiled beside, which a process folder must not shadow:
/// the workflows crate's, the activities crate's areas, and the e2e test binary's own.
const PLATFORM_MODULES: &[&str] = &[
    "workflows/src/{}.rs",
    "activities/src/{}.rs",
    "activities/src/{}",
    "worker/tests/e2e/{}.rs",
];

/// Refuses a name the workspace already uses: in the catalog, as a process name or folder, or
/// as a module the process's files would sit beside.
fn check_free(root: &Path, names: &Names) -> anyhow::Result<()> {
    let Names {
        kebab,
        snake,
        camel,
    } = names;
    let catalog = read(&root.join(CATALOG))?;
    if catalog
        .lines()
        .any(|line| line.trim().starts_with(&format!("{snake}::")))
    {
        bail!("{snake} is already in the catalog in {CATALOG}; nothing written");
    }
    let run_name = format!("#[run(name = \"{kebab}\")]");
    let process_name = format!("pub const NAME: &str = \"{kebab}\";");
    for entry in std::fs::read_dir(root.join("processes"))? {
        let workflow = entry?.path().join("workflow.rs");
        if let Ok(text) = std::fs::read_to_string(&workflow)
            && (text.contains(&run_name) || text.contains(&process_name))
        {
            bail!(
                "process {kebab} already exists in {}; nothing written",
                workflow.display()
            );
        }
    }
    // The e2e binary's generated module of harness tests.
    if snake == "harness_of" {
        bail!("{kebab} is the name of the harness's test module; choose another name");
    }
    let mut taken = vec![root.join(folder(names))];
    taken.extend(
        PLATFORM_MODULES
            .iter()
            .map(|pattern| root.join(pattern.replace("{}", snake))),
    );
    if let Some(path) = taken.iter().find(|path| path.exists()) {
        bail!(
            "{kebab} ({camel}) clashes with {}, which exists; nothing written",
            path.display()
        );
    }
    Ok(())
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

    /// A throwaway workspace with the catalog, one process folder and the platform modules a
    /// process must not shadow.
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
                "//! The catalog.\n\ncatalog![\n    invest_cash::InvestCash,\n];\n",
            ),
            (
                "processes/invest_cash/workflow.rs",
                "pub const NAME: &str = \"invest-cash\";\n",
            ),
            // A folder left by a process since taken out of the catalog.
            ("processes/old_run/histories/happy-path.json", "{}"),
            ("activities/src/ledger.rs", "//! The ledger gateway.\n"),
            ("worker/tests/e2e/support.rs", "//! Test support.\n"),
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
            ("invest-cash", Kind::MemberRequest, "already in the catalog"),
            ("old-run", Kind::Scheduled, "clashes with"),
            ("ledger", Kind::Bulk, "clashes with"),
            ("support", Kind::MemberRequest, "clashes with"),
            ("harness-of", Kind::MemberRequest, "harness's test module"),
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
    fn a_new_process_is_one_folder_and_one_catalog_line() {
        let root = workspace();
        let plan = plan(&root, &Names::parse("audit-pots").unwrap(), Kind::Bulk).unwrap();
        let edited: Vec<&Planned> = plan.iter().filter(|f| f.original.is_some()).collect();
        assert_eq!(edited.len(), 1);
        assert_eq!(edited[0].path, root.join("workflows/src/lib.rs"));
        assert_eq!(
            edited[0].contents,
            "//! The catalog.\n\ncatalog![\n    audit_pots::AuditPots,\n    invest_cash::InvestCash,\n];\n"
        );
        let mut created: Vec<String> = plan
            .iter()
            .filter(|f| f.original.is_none())
            .map(|f| f.path.strip_prefix(&root).unwrap().display().to_string())
            .collect();
        created.sort();
        assert_eq!(
            created,
            [
                "processes/audit_pots/activities.rs",
                "processes/audit_pots/e2e.rs",
                "processes/audit_pots/tests.rs",
                "processes/audit_pots/workflow.rs",
            ]
        );
        let workflow = &plan
            .iter()
            .find(|f| f.path.ends_with("workflow.rs"))
            .unwrap();
        assert!(
            workflow
                .contents
                .contains("pub const NAME: &str = \"audit-pots\";")
        );
        assert!(
            find_workspace(&root.join("processes/invest_cash")).is_ok_and(|found| found == root)
        );
        std::fs::remove_dir_all(root).unwrap();
    }
}
