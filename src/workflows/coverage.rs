//! Proof that `ci.yml` runs the lane: every `cargo xtask ci` invocation in its `run:` scripts,
//! compared with the lane of shiplane.toml. One job running `cargo xtask ci` runs every step; jobs
//! running `cargo xtask ci --step NAME` must name exactly the lane's steps, in the lane's order.

use crate::report::Problem;

use super::scan::{is_item, scan};

/// One `cargo xtask ci` in a workflow: its line, and the steps it names (empty: the whole lane).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    pub line: usize,
    pub steps: Vec<String>,
}

/// Every `cargo xtask ci` a workflow's steps run (`--list` runs nothing and is skipped).
pub fn invocations(text: &str) -> Vec<Invocation> {
    let mut found = Vec::new();
    for entry in scan(text) {
        let in_step = entry.path.iter().any(|s| s == "steps")
            && entry.parent().last().is_some_and(|s| is_item(s));
        if !(in_step && entry.key() == "run") {
            continue;
        }
        for (line, script) in &entry.lines {
            for command in commands(script) {
                let Some(at) = command
                    .windows(3)
                    .position(|w| w[0] == "cargo" && w[1] == "xtask" && w[2] == "ci")
                else {
                    continue;
                };
                let args = &command[at + 3..];
                if args.iter().any(|a| a == "--list") {
                    continue;
                }
                let mut steps = Vec::new();
                let mut i = 0;
                while i < args.len() {
                    if args[i] == "--step" {
                        if let Some(name) = args.get(i + 1) {
                            steps.push(name.clone());
                        }
                        i += 2;
                        continue;
                    }
                    if let Some(name) = args[i].strip_prefix("--step=") {
                        steps.push(name.to_string());
                    }
                    i += 1;
                }
                found.push(Invocation { line: *line, steps });
            }
        }
    }
    found
}

/// The simple commands of one shell line, as words (quotes removed; `;`, `&&`, `||`, `|` split).
fn commands(script: &str) -> Vec<Vec<String>> {
    let mut commands = vec![Vec::new()];
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = script.chars().peekable();
    let mut quote: Option<char> = None;
    while let Some(c) = chars.next() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => word.push(c),
            None => match c {
                '\'' | '"' => {
                    quote = Some(c);
                    in_word = true;
                }
                '#' if !in_word => break,
                ';' | '&' | '|' => {
                    if in_word {
                        if let Some(last) = commands.last_mut() {
                            last.push(std::mem::take(&mut word));
                        }
                        in_word = false;
                    }
                    if chars.peek() == Some(&c) {
                        chars.next();
                    }
                    commands.push(Vec::new());
                }
                c if c.is_whitespace() => {
                    if in_word {
                        if let Some(last) = commands.last_mut() {
                            last.push(std::mem::take(&mut word));
                        }
                        in_word = false;
                    }
                }
                c => {
                    word.push(c);
                    in_word = true;
                }
            },
        }
    }
    if in_word {
        if let Some(last) = commands.last_mut() {
            last.push(word);
        }
    }
    commands.retain(|c| !c.is_empty());
    commands
}

/// Check that `text` (the workflow at `rel`) runs exactly the lane whose steps are `lane_names`:
/// the whole lane once, or every step once, in order. Problems name the line and the fix.
pub fn check(rel: &str, text: &str, lane_names: &[&str], hint: &str) -> Vec<Problem> {
    let found = invocations(text);
    let jobs_line = scan(text)
        .into_iter()
        .find(|e| e.path.len() == 1 && e.key() == "jobs")
        .map_or(1, |e| e.line);
    let whole: Vec<&Invocation> = found.iter().filter(|i| i.steps.is_empty()).collect();
    let stepwise: Vec<(usize, &str)> = found
        .iter()
        .flat_map(|i| i.steps.iter().map(move |s| (i.line, s.as_str())))
        .collect();
    let mut problems = Vec::new();
    if found.is_empty() {
        problems.push(
            Problem::at(
                rel,
                jobs_line,
                "no job runs `cargo xtask ci`: CI does not run the lane of shiplane.toml [ci]",
            )
            .hint(hint.to_string()),
        );
        return problems;
    }
    if let Some(first) = whole.first() {
        if whole.len() > 1 {
            problems.push(
                Problem::at(
                    rel,
                    whole[1].line,
                    format!(
                        "the whole lane runs {} times (first on line {})",
                        whole.len(),
                        first.line
                    ),
                )
                .hint(hint.to_string()),
            );
        }
        if let Some((line, step)) = stepwise.first() {
            problems.push(
                Problem::at(
                    rel,
                    *line,
                    format!(
                        "`--step {step}` runs again a step the whole lane (line {}) already runs",
                        first.line
                    ),
                )
                .hint(hint.to_string()),
            );
        }
        return problems;
    }
    for (line, step) in &stepwise {
        if !lane_names.contains(step) {
            problems.push(
                Problem::at(rel, *line, format!("`cargo xtask ci --step {step}`: the lane in shiplane.toml has no step `{step}`"))
                    .hint(hint.to_string()),
            );
        }
    }
    for name in lane_names {
        let count = stepwise.iter().filter(|(_, s)| s == name).count();
        if count == 0 {
            problems.push(
                Problem::at(rel, jobs_line, format!("no job runs lane step `{name}`: CI would run less than `cargo xtask ci` does"))
                    .hint(hint.to_string()),
            );
        } else if count > 1 {
            problems.push(
                Problem::at(
                    rel,
                    jobs_line,
                    format!("lane step `{name}` runs in {count} jobs"),
                )
                .hint(hint.to_string()),
            );
        }
    }
    let order: Vec<&str> = stepwise
        .iter()
        .map(|(_, s)| *s)
        .filter(|s| lane_names.contains(s))
        .collect();
    if problems.is_empty() && order != lane_names {
        problems.push(
            Problem::at(
                rel,
                jobs_line,
                format!(
                    "the jobs run the lane's steps in the order {}; the lane's order is {}",
                    order.join(", "),
                    lane_names.join(", ")
                ),
            )
            .hint(hint.to_string()),
        );
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_commands() {
        assert_eq!(
            commands("cargo xtask ci --step 'a b' && echo \"x;y\" ; cargo xtask ci # done"),
            vec![
                vec!["cargo", "xtask", "ci", "--step", "a b"],
                vec!["echo", "x;y"],
                vec!["cargo", "xtask", "ci"],
            ]
        );
    }

    #[test]
    fn finds_invocations() {
        let text = "jobs:\n  a:\n    steps:\n      - run: cargo xtask ci --step fmt --step=clippy\n      - run: |\n          cargo xtask ci --list\n          cargo xtask ci\n";
        assert_eq!(
            invocations(text),
            vec![
                Invocation {
                    line: 4,
                    steps: vec!["fmt".into(), "clippy".into()]
                },
                Invocation {
                    line: 7,
                    steps: vec![]
                },
            ]
        );
    }
}
