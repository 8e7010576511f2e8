//! The contributor lane: the steps `cargo xtask ci` runs, defined once in shiplane.toml `[ci]`,
//! and the source the GitHub workflows are generated from (so CI can never run less than a
//! contributor does).

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use crate::config::LoadedConfig;
use crate::report::Problems;

/// What a step does. Built-in kinds know their command; `command` runs the configured argv.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StepKind {
    /// `cargo fmt --all -- --check`
    Fmt,
    /// `cargo clippy --workspace --all-targets -- -D warnings`
    Clippy,
    /// `cargo nextest run --workspace` when cargo-nextest is installed, else `cargo test --workspace`.
    Test,
    /// `cargo doc --workspace --no-deps` with `RUSTDOCFLAGS=-D warnings`.
    Doc,
    /// `cargo package --workspace --allow-dirty`, leaving out `publish = false` members: packaging
    /// proven on every change.
    Package,
    /// `workflows --check` of this very tool: generated workflows have not drifted.
    Workflows,
    /// zizmor on `.github/workflows` (installed at the pinned `[ci.tools] zizmor` version if missing).
    Zizmor,
    /// The configured `run` argv.
    Command,
}

impl StepKind {
    pub const ALL: [(&'static str, StepKind); 8] = [
        ("fmt", StepKind::Fmt),
        ("clippy", StepKind::Clippy),
        ("test", StepKind::Test),
        ("doc", StepKind::Doc),
        ("package", StepKind::Package),
        ("workflows", StepKind::Workflows),
        ("zizmor", StepKind::Zizmor),
        ("command", StepKind::Command),
    ];

    pub fn parse(name: &str) -> Option<StepKind> {
        Self::ALL.iter().find(|(n, _)| *n == name).map(|(_, k)| *k)
    }

    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, k)| *k == self)
            .map_or("command", |(n, _)| n)
    }

    /// The argv of a built-in kind (`Test` resolves nextest at run time; `Workflows` runs the
    /// current executable). `None` for `Command`.
    pub fn default_argv(self) -> Option<Vec<String>> {
        let v = |args: &[&str]| Some(args.iter().map(|s| s.to_string()).collect());
        match self {
            StepKind::Fmt => v(&["cargo", "fmt", "--all", "--", "--check"]),
            StepKind::Clippy => v(&[
                "cargo",
                "clippy",
                "--workspace",
                "--all-targets",
                "--",
                "-D",
                "warnings",
            ]),
            StepKind::Test => v(&["cargo", "test", "--workspace"]),
            StepKind::Doc => v(&["cargo", "doc", "--workspace", "--no-deps"]),
            StepKind::Package => v(&["cargo", "package", "--workspace"]),
            StepKind::Workflows => v(&["shiplane", "workflows", "--check"]),
            StepKind::Zizmor => v(&["zizmor", "--offline", ".github/workflows"]),
            StepKind::Command => None,
        }
    }

    /// Environment a built-in kind always sets.
    pub fn default_env(self) -> BTreeMap<String, String> {
        match self {
            StepKind::Doc => {
                BTreeMap::from([("RUSTDOCFLAGS".to_string(), "-D warnings".to_string())])
            }
            _ => BTreeMap::new(),
        }
    }

    /// What to do when a built-in step fails.
    pub fn default_hint(self) -> Option<&'static str> {
        match self {
            StepKind::Fmt => Some("run `cargo fmt --all` and commit the result"),
            StepKind::Clippy => Some("fix the lints clippy lists (run the same command locally)"),
            StepKind::Test => Some("run the failing test locally with the same command"),
            StepKind::Doc => Some("fix the rustdoc warnings (broken links, missing docs) it lists"),
            StepKind::Package => Some("run `cargo package --workspace --list` to see what would be packaged, and fix the manifest"),
            StepKind::Workflows => Some("run `cargo xtask workflows --write` and commit"),
            StepKind::Zizmor => Some("fix the workflow findings zizmor lists"),
            StepKind::Command => None,
        }
    }
}

/// One step of the lane, resolved.
#[derive(Debug, Clone, Serialize)]
pub struct LaneStep {
    pub name: String,
    pub kind: StepKind,
    pub argv: Vec<String>,
    /// Lane env, then the kind's, then the step's.
    pub env: BTreeMap<String, String>,
    /// Set only under CI (`CI=true`).
    pub ci_env: BTreeMap<String, String>,
    /// Relative to the repository root.
    pub dir: Option<String>,
    #[serde(serialize_with = "serialize_duration")]
    pub timeout: Duration,
    pub hint: Option<String>,
}

/// The whole lane and the workflow settings that come with it.
#[derive(Debug, Clone, Serialize)]
pub struct Lane {
    pub steps: Vec<LaneStep>,
    pub runs_on: String,
    /// One job per step in the generated ci.yml (else one job runs the whole lane).
    pub per_step_jobs: bool,
    /// Pinned tool versions (`rust`, `zizmor`, ...).
    pub tools: BTreeMap<String, String>,
    /// `owner/repo` → (sha, tag).
    pub actions: BTreeMap<String, (String, String)>,
}

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30 * 60);
const DEFAULT_KINDS: [StepKind; 6] = [
    StepKind::Fmt,
    StepKind::Clippy,
    StepKind::Test,
    StepKind::Doc,
    StepKind::Package,
    StepKind::Workflows,
];

/// Parse `90s`, `10m`, `1h`, `1h30m`, or plain seconds.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    if let Ok(secs) = text.parse::<u64>() {
        return (secs > 0).then(|| Duration::from_secs(secs));
    }
    let mut total = 0u64;
    let mut number = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let n: u64 = number.parse().ok()?;
        number.clear();
        total += n * match c {
            'h' => 3600,
            'm' => 60,
            's' => 1,
            _ => return None,
        };
    }
    (number.is_empty() && total > 0).then(|| Duration::from_secs(total))
}

fn serialize_duration<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(d.as_secs())
}

impl Lane {
    /// The lane of a config: its `[[ci.step]]` entries, or the default Rust lane (fmt, clippy,
    /// test, doc, package, workflows) when there are none. Every problem is reported with its line.
    pub fn load(loaded: &LoadedConfig) -> Result<Lane, Problems> {
        let ci = &loaded.config.ci;
        let mut problems = Problems::default();
        let default_timeout = match &ci.timeout {
            Some(t) => parse_duration(t.get_ref()).unwrap_or_else(|| {
                problems.push(
                    loaded
                        .problem(
                            t,
                            format!("[ci] timeout `{}` is not a duration", t.get_ref()),
                        )
                        .hint("write e.g. \"90s\", \"10m\", \"1h30m\""),
                );
                DEFAULT_TIMEOUT
            }),
            None => DEFAULT_TIMEOUT,
        };
        let per_step_jobs = match ci.jobs.as_ref().map(|j| j.get_ref().as_str()) {
            None | Some("single") => false,
            Some("per-step") => true,
            Some(other) => {
                if let Some(j) = &ci.jobs {
                    problems.push(
                        loaded
                            .problem(
                                j,
                                format!("[ci] jobs `{other}` is neither `single` nor `per-step`"),
                            )
                            .hint("jobs = \"single\" (one job runs the lane) or \"per-step\""),
                    );
                }
                false
            }
        };
        let mut actions = BTreeMap::new();
        for (name, pin) in &ci.actions {
            let sha = pin.get_ref().sha.get_ref();
            if sha.len() != 40 || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
                problems.push(
                    loaded
                        .problem(&pin.get_ref().sha, format!("[ci.actions] `{name}` sha `{sha}` is not a full 40-character commit SHA"))
                        .hint("pin the action to the commit its tag points at (a tag or branch can move)"),
                );
            }
            actions.insert(name.clone(), (sha.clone(), pin.get_ref().tag.clone()));
        }
        let mut steps = Vec::new();
        if ci.steps.is_empty() {
            for kind in DEFAULT_KINDS {
                steps.push(builtin(kind, kind.name(), &ci.env, default_timeout));
            }
        }
        let mut seen: BTreeMap<String, usize> = BTreeMap::new();
        for spanned in &ci.steps {
            let step = spanned.get_ref();
            let name = step.name.get_ref().clone();
            if let Some(first) = seen.insert(name.clone(), loaded.line(&step.name)) {
                problems.push(
                    loaded
                        .problem(
                            &step.name,
                            format!("step `{name}` is defined twice (first on line {first})"),
                        )
                        .hint("give every [[ci.step]] a unique name"),
                );
            }
            let Some(kind) = StepKind::parse(step.kind.get_ref()) else {
                problems.push(
                    loaded
                        .problem(
                            &step.kind,
                            format!("unknown step kind `{}`", step.kind.get_ref()),
                        )
                        .hint(format!(
                            "use one of: {}",
                            StepKind::ALL
                                .iter()
                                .map(|(n, _)| *n)
                                .collect::<Vec<_>>()
                                .join(", ")
                        )),
                );
                continue;
            };
            let argv = match (&step.run, kind) {
                (Some(run), StepKind::Command) => {
                    if run.get_ref().is_empty() || run.get_ref().iter().any(|a| a.is_empty()) {
                        problems.push(
                            loaded
                                .problem(run, format!("step `{name}`: `run` is empty or has an empty argument"))
                                .hint("write the command as an argv array, e.g. run = [\"cargo\", \"xtask\", \"rehearse\"]"),
                        );
                    }
                    run.get_ref().clone()
                }
                (None, StepKind::Command) => {
                    problems.push(
                        loaded
                            .problem(
                                spanned,
                                format!("step `{name}` (kind `command`) has no `run`"),
                            )
                            .hint("add run = [\"program\", \"arg\", ...]"),
                    );
                    Vec::new()
                }
                (Some(run), _) => {
                    problems.push(
                        loaded
                            .problem(run, format!("step `{name}` is a built-in `{}` step; `run` applies to `command` steps only", kind.name()))
                            .hint("remove `run`, or make it kind = \"command\""),
                    );
                    Vec::new()
                }
                (None, _) => kind.default_argv().unwrap_or_default(),
            };
            let timeout = match &step.timeout {
                Some(t) => parse_duration(t.get_ref()).unwrap_or_else(|| {
                    problems.push(
                        loaded
                            .problem(
                                t,
                                format!(
                                    "step `{name}`: timeout `{}` is not a duration",
                                    t.get_ref()
                                ),
                            )
                            .hint("write e.g. \"90s\", \"10m\", \"1h30m\""),
                    );
                    default_timeout
                }),
                None => default_timeout,
            };
            let dir = step.dir.as_ref().map(|d| d.get_ref().clone());
            if let Some(d) = &step.dir {
                if d.get_ref().split(['/', '\\']).any(|c| c == "..")
                    || std::path::Path::new(d.get_ref()).is_absolute()
                {
                    problems.push(
                        loaded
                            .problem(d, format!("step `{name}`: dir `{}` must be a relative path inside the repository", d.get_ref()))
                            .hint("write it relative to the directory holding shiplane.toml"),
                    );
                }
            }
            let mut env = ci.env.clone();
            env.extend(kind.default_env());
            env.extend(step.env.clone());
            steps.push(LaneStep {
                name,
                kind,
                argv,
                env,
                ci_env: step.ci_env.clone(),
                dir,
                timeout,
                hint: step
                    .hint
                    .clone()
                    .or_else(|| kind.default_hint().map(str::to_string)),
            });
        }
        problems.into_result()?;
        Ok(Lane {
            steps,
            runs_on: ci.runs_on.clone().unwrap_or_else(|| "ubuntu-latest".into()),
            per_step_jobs,
            tools: ci.tools.clone(),
            actions,
        })
    }
}

fn builtin(
    kind: StepKind,
    name: &str,
    lane_env: &BTreeMap<String, String>,
    timeout: Duration,
) -> LaneStep {
    let mut env = lane_env.clone();
    env.extend(kind.default_env());
    LaneStep {
        name: name.to_string(),
        kind,
        argv: kind.default_argv().unwrap_or_default(),
        env,
        ci_env: BTreeMap::new(),
        dir: None,
        timeout,
        hint: kind.default_hint().map(str::to_string),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn lane(text: &str) -> Result<Lane, Problems> {
        let loaded = LoadedConfig::parse(
            PathBuf::from("shiplane.toml"),
            "shiplane.toml".into(),
            text.into(),
        )
        .expect("parses");
        Lane::load(&loaded)
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("10m"), Some(Duration::from_secs(600)));
        assert_eq!(parse_duration("1h30m"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_duration("45"), Some(Duration::from_secs(45)));
        for bad in ["", "0", "10x", "m", "1.5h", "-3s"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn default_lane_when_no_steps() {
        let lane = lane("").unwrap();
        let names: Vec<&str> = lane.steps.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            ["fmt", "clippy", "test", "doc", "package", "workflows"]
        );
        assert_eq!(
            lane.steps[3].env.get("RUSTDOCFLAGS").map(String::as_str),
            Some("-D warnings")
        );
        assert_eq!(lane.runs_on, "ubuntu-latest");
    }

    #[test]
    fn lane_errors_name_line_and_fix() {
        let err = lane(concat!(
            "[ci]\ntimeout = \"forever\"\n",
            "[[ci.step]]\nname = \"a\"\nkind = \"lint\"\n",
            "[[ci.step]]\nname = \"b\"\nkind = \"command\"\nrun = []\n",
            "[[ci.step]]\nname = \"c\"\nkind = \"command\"\nrun = [\"x\"]\ntimeout = \"5 minutes\"\n",
            "[[ci.step]]\nname = \"c\"\nkind = \"fmt\"\nrun = [\"y\"]\n",
        ))
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("shiplane.toml:2: error: [ci] timeout `forever` is not a duration"),
            "{err}"
        );
        assert!(
            err.contains("shiplane.toml:5: error: unknown step kind `lint`"),
            "{err}"
        );
        assert!(
            err.contains(
                "fix: use one of: fmt, clippy, test, doc, package, workflows, zizmor, command"
            ),
            "{err}"
        );
        assert!(
            err.contains("shiplane.toml:9: error: step `b`: `run` is empty"),
            "{err}"
        );
        assert!(
            err.contains(
                "shiplane.toml:14: error: step `c`: timeout `5 minutes` is not a duration"
            ),
            "{err}"
        );
        assert!(
            err.contains("shiplane.toml:16: error: step `c` is defined twice (first on line 11)"),
            "{err}"
        );
        assert!(
            err.contains("shiplane.toml:18: error: step `c` is a built-in `fmt` step"),
            "{err}"
        );
    }
}
