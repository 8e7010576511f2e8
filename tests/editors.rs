//! Property tests for the TOML and pattern editors: random surrounding content is preserved byte for
//! byte, and only the version value changes. (The JSON editor's properties live beside it in
//! src/edit/json.rs.)

use proptest::prelude::*;
use shiplane::edit::{self, pattern, toml};

const NEW: &str = "10.20.30-rc.4";

/// A line ending, the same for the whole document.
fn eol() -> impl Strategy<Value = &'static str> {
    prop_oneof![Just("\n"), Just("\r\n")]
}

fn comment() -> impl Strategy<Value = String> {
    "[ a-zA-Z0-9.,:=\"'{}\\[\\]-]{0,30}".prop_map(|c| format!("#{c}"))
}

fn bare_key() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9_-]{0,8}"
}

/// A scalar value in one of TOML's spellings.
fn scalar() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9 ._/@-]{0,12}".prop_map(|s| format!("\"{s}\"")),
        "[a-zA-Z0-9 ._/@-]{0,12}".prop_map(|s| format!("'{s}'")),
        any::<i32>().prop_map(|n| n.to_string()),
        any::<bool>().prop_map(|b| b.to_string()),
        proptest::collection::vec(any::<u8>(), 0..4).prop_map(|v| format!(
            "[{}]",
            v.iter()
                .map(|n| n.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    ]
}

/// Filler lines: key/value pairs with random spacing and comments, blank lines, comment lines.
fn filler(prefix: &'static str) -> impl Strategy<Value = Vec<String>> {
    proptest::collection::vec(
        prop_oneof![
            (
                bare_key(),
                "[ \t]{0,3}",
                "[ \t]{0,3}",
                scalar(),
                proptest::option::of(comment())
            )
                .prop_map(move |(k, a, b, v, c)| format!(
                    "{prefix}{k}{{n}}{a}={b}{v}{}",
                    c.map(|c| format!(" {c}")).unwrap_or_default()
                )),
            Just(String::new()),
            comment(),
        ],
        0..6,
    )
    // Number the keys so none repeats within a table.
    .prop_map(|lines| {
        lines
            .into_iter()
            .enumerate()
            .map(|(i, l)| l.replacen("{n}", &i.to_string(), 1))
            .collect()
    })
}

/// Where the version sits, and how it is spelled around it.
#[derive(Debug, Clone)]
enum Placement {
    Table,
    Inline,
    Dotted,
}

fn placement() -> impl Strategy<Value = Placement> {
    prop_oneof![
        Just(Placement::Table),
        Just(Placement::Inline),
        Just(Placement::Dotted)
    ]
}

prop_compose! {
    fn toml_doc()(
        eol in eol(),
        head in filler("h"),
        before in filler("b"),
        after in filler("a"),
        tail in filler("t"),
        place in placement(),
        quote in prop_oneof![Just('"'), Just('\'')],
        old in prop_oneof![Just("1.2.3"), Just("0.4.1rc1"), Just("=1.2.3"), Just("^0.1")],
        spaces in "[ \t]{0,2}",
        trailing_comment in proptest::option::of(comment()),
        final_newline in any::<bool>(),
    ) -> (String, Vec<String>, String) {
        let value = format!("{quote}{old}{quote}");
        let comment = trailing_comment.map(|c| format!(" {c}")).unwrap_or_default();
        let mut lines: Vec<String> = head;
        lines.push("[tool]".into());
        lines.extend(before);
        let path = match place {
            Placement::Table => {
                lines.push(format!("version{spaces}={spaces}{value}{comment}"));
                vec!["tool".to_string(), "version".to_string()]
            }
            Placement::Inline => {
                lines.push(format!("dep = {{ path = \"../dep\",{spaces}version{spaces}={spaces}{value} }}{comment}"));
                vec!["tool".to_string(), "dep".to_string(), "version".to_string()]
            }
            Placement::Dotted => {
                lines.push(format!("pin.version{spaces}={spaces}{value}{comment}"));
                vec!["tool".to_string(), "pin".to_string(), "version".to_string()]
            }
        };
        lines.extend(after);
        lines.push("[other]".into());
        lines.extend(tail);
        let mut text = lines.join(eol);
        if final_newline {
            text.push_str(eol);
        }
        (text, path, old.to_string())
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn toml_edit_changes_only_the_value((text, path, old) in toml_doc()) {
        let keys: Vec<&str> = path.iter().map(String::as_str).collect();
        let doc = toml::parse(&text).expect("generated TOML parses");
        let found = toml::find_string(&text, &doc, &keys).expect("a plain string").expect("present");
        prop_assert_eq!(&found.text, &old);
        prop_assert_eq!(&text[found.span.clone()], old.as_str());
        let new_text = edit::apply(&text, &[(found.span.clone(), NEW.to_string())]).expect("one span");
        // Every byte outside the value is unchanged.
        prop_assert_eq!(&new_text[..found.span.start], &text[..found.span.start]);
        prop_assert_eq!(&new_text[found.span.start + NEW.len()..], &text[found.span.end..]);
        // The result parses, holds the new value, and every other value is the same.
        let before: serde_json::Value = toml_edit::de::from_str(&text).expect("old deserializes");
        let mut expected = before.clone();
        let mut slot = &mut expected;
        for k in &keys {
            slot = slot.get_mut(*k).expect("path exists");
        }
        *slot = serde_json::Value::String(NEW.to_string());
        let after: serde_json::Value = toml_edit::de::from_str(&new_text).expect("new deserializes");
        prop_assert_eq!(after, expected);
    }

    #[test]
    fn pattern_edit_changes_only_the_value(
        before in proptest::collection::vec("[ -~]{0,40}", 0..20),
        after in proptest::collection::vec("[ -~]{0,40}", 0..20),
        eol in eol(),
        old in prop_oneof![Just("1.2.3"), Just("0.4.1rc1"), Just("1.0.23-alpha.1")],
        final_newline in any::<bool>(),
    ) {
        let template = "_SCOPE_VERSION = \"{version}\"";
        let regex = pattern::compile(template).expect("template compiles");
        // Filler must not itself match the pattern.
        let filler_ok = |l: &String| !regex.is_match(l);
        prop_assume!(before.iter().all(filler_ok) && after.iter().all(filler_ok));
        let mut lines = before.clone();
        lines.push(format!("_SCOPE_VERSION = \"{old}\""));
        lines.extend(after.clone());
        let mut text = lines.join(eol);
        if final_newline {
            text.push_str(eol);
        }
        let found = pattern::find_once(&text, &regex).expect("exactly one match");
        prop_assert_eq!(found.line, before.len() + 1);
        prop_assert_eq!(found.text.as_str(), old);
        let new_text = edit::apply(&text, &[(found.span.clone(), NEW.to_string())]).expect("one span");
        prop_assert_eq!(&new_text[..found.span.start], &text[..found.span.start]);
        prop_assert_eq!(&new_text[found.span.start + NEW.len()..], &text[found.span.end..]);
        prop_assert_eq!(pattern::find_once(&new_text, &regex).expect("still one match").text, NEW);
    }

    #[test]
    fn yaml_key_edit_changes_only_the_value(
        before in proptest::collection::vec("[a-z][a-z-]{0,10}: [a-zA-Z0-9 .]{0,20}", 0..8),
        after in proptest::collection::vec("  - [a-z]{1,8}: [a-zA-Z0-9 .]{0,20}", 0..8),
        eol in eol(),
        quote in prop_oneof![Just(""), Just("\""), Just("'")],
        comment in proptest::option::of(" # [a-z ]{0,10}"),
    ) {
        prop_assume!(before.iter().all(|l| !l.starts_with("version:")));
        let mut lines = before.clone();
        lines.push(format!("version: {quote}0.4.1{quote}{}", comment.clone().unwrap_or_default()));
        lines.extend(after);
        let text = lines.join(eol) + eol;
        let found = pattern::find_yaml_key(&text, "version").expect("one key").expect("present");
        prop_assert_eq!(found.text.as_str(), "0.4.1");
        let new_text = edit::apply(&text, &[(found.span.clone(), NEW.to_string())]).expect("one span");
        prop_assert_eq!(&new_text[..found.span.start], &text[..found.span.start]);
        prop_assert_eq!(&new_text[found.span.start + NEW.len()..], &text[found.span.end..]);
    }
}
