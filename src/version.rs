//! Versions: strict semver input, relative bumps, and the PEP 440 form that Python tooling reads.
//!
//! Shiplane's one version is a [`semver::Version`]. Locations read by Python (pyproject.toml,
//! `__version__`, the CITATION.cff of a Python product) hold its PEP 440 spelling instead:
//! `1.2.0-rc.1` is written `1.2.0rc1`, and reading `1.2.0rc1` back gives `1.2.0-rc.1`. Only forms that
//! survive that round trip are accepted, so a version never changes meaning between the two worlds.

use std::fmt;

use semver::{BuildMetadata, Prerelease, Version};
use serde::{Deserialize, Serialize};

/// How a location spells a version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scheme {
    /// Semantic Versioning 2.0.0: `1.2.0-rc.1+build.5`.
    Semver,
    /// PEP 440, as read by Python packaging: `1.2.0rc1+build.5`.
    Pep440,
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Scheme::Semver => "semver",
            Scheme::Pep440 => "PEP 440",
        })
    }
}

/// What `bump` was asked to move to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BumpTarget {
    Exact(Version),
    Major,
    Minor,
    Patch,
    /// The next prerelease (`1.2.0-rc.1` → `1.2.0-rc.2`, `1.2.0` → `1.2.1-rc.1`).
    Pre,
}

/// An invalid version given on the command line: a usage error with the fix in the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionInputError(pub String);

impl fmt::Display for VersionInputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for VersionInputError {}

impl BumpTarget {
    /// Parse `major`, `minor`, `patch`, `pre` or an exact semver version.
    pub fn parse(input: &str) -> Result<BumpTarget, VersionInputError> {
        match input {
            "major" => Ok(BumpTarget::Major),
            "minor" => Ok(BumpTarget::Minor),
            "patch" => Ok(BumpTarget::Patch),
            "pre" | "prerelease" => Ok(BumpTarget::Pre),
            other => parse_semver_input(other).map(BumpTarget::Exact),
        }
    }
}

/// Parse a version typed by a person, explaining what is wrong and how to write it instead.
pub fn parse_semver_input(input: &str) -> Result<Version, VersionInputError> {
    let fail = |why: String| Err(VersionInputError(why));
    let trimmed = input.trim();
    if trimmed.is_empty() {
        return fail(
            "empty version: give MAJOR.MINOR.PATCH (e.g. 1.4.0) or one of major, minor, patch, pre"
                .into(),
        );
    }
    if trimmed != input {
        return fail(format!(
            "`{input}` has surrounding whitespace: write `{trimmed}`"
        ));
    }
    if let Some(rest) = input.strip_prefix(['v', 'V']) {
        let suggestion = match parse_semver_input(rest) {
            Ok(v) => format!("write `{v}`"),
            Err(_) => "write MAJOR.MINOR.PATCH, e.g. 1.4.0".to_string(),
        };
        return fail(format!(
            "`{input}` starts with `v`: versions are written bare (tag templates add any prefix); {suggestion}"
        ));
    }
    let core = input.split(['-', '+']).next().unwrap_or(input);
    let parts: Vec<&str> = core.split('.').collect();
    if parts
        .iter()
        .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
    {
        match parts.len() {
            1 | 2 => {
                let padded = parts
                    .iter()
                    .copied()
                    .chain(std::iter::repeat("0"))
                    .take(3)
                    .collect::<Vec<_>>()
                    .join(".");
                return fail(format!(
                    "`{input}` is not a full semver version: it needs three numbers MAJOR.MINOR.PATCH, e.g. `{padded}`"
                ));
            }
            3 => {}
            n => {
                return fail(format!(
                    "`{input}` has {n} numeric parts; semver has exactly three (MAJOR.MINOR.PATCH), e.g. `{}`",
                    parts[..3].join(".")
                ))
            }
        }
    }
    Version::parse(input).or_else(|e| {
        fail(format!(
            "`{input}` is not a valid semver version ({e}); write MAJOR.MINOR.PATCH with an optional -PRERELEASE, e.g. 1.4.0 or 1.4.0-rc.1"
        ))
    })
}

/// Compute the version a relative or exact bump lands on.
///
/// Follows semver's rules for prereleases: `patch` on `1.2.0-rc.1` gives `1.2.0` (the release it was
/// heading for), `minor` on `1.3.0-rc.1` gives `1.3.0`, `major` on `2.0.0-beta.1` gives `2.0.0`. With a
/// `pre_id`, `major`/`minor`/`patch` land on the first prerelease of the next such version
/// (`minor --pre-id rc` on `1.2.3` gives `1.3.0-rc.1`), and `pre` steps the prerelease number.
pub fn next_version(
    current: &Version,
    target: &BumpTarget,
    pre_id: Option<&str>,
) -> Result<Version, VersionInputError> {
    if let Some(id) = pre_id {
        validate_pre_id(id)?;
    }
    let is_pre = !current.pre.is_empty();
    let base = |major, minor, patch| Version::new(major, minor, patch);
    let (major, minor, patch) = (current.major, current.minor, current.patch);
    let released = match target {
        BumpTarget::Exact(v) => {
            if pre_id.is_some() {
                return Err(VersionInputError(
                    "--pre-id applies to major, minor, patch and pre; an exact version already says its prerelease".into(),
                ));
            }
            return Ok(v.clone());
        }
        BumpTarget::Pre => return next_prerelease(current, pre_id),
        BumpTarget::Major if pre_id.is_some() => base(major + 1, 0, 0),
        BumpTarget::Minor if pre_id.is_some() => base(major, minor + 1, 0),
        BumpTarget::Patch if pre_id.is_some() => base(major, minor, patch + 1),
        BumpTarget::Major if is_pre && minor == 0 && patch == 0 => base(major, 0, 0),
        BumpTarget::Major => base(major + 1, 0, 0),
        BumpTarget::Minor if is_pre && patch == 0 => base(major, minor, 0),
        BumpTarget::Minor => base(major, minor + 1, 0),
        BumpTarget::Patch if is_pre => base(major, minor, patch),
        BumpTarget::Patch => base(major, minor, patch + 1),
    };
    match pre_id {
        Some(id) => with_pre(released, id, 1),
        None => Ok(released),
    }
}

fn validate_pre_id(id: &str) -> Result<(), VersionInputError> {
    let ok = !id.is_empty()
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !id.bytes().all(|b| b.is_ascii_digit());
    if ok {
        Ok(())
    } else {
        Err(VersionInputError(format!(
            "--pre-id `{id}` must be an alphanumeric word such as rc, beta or alpha"
        )))
    }
}

fn with_pre(version: Version, id: &str, number: u64) -> Result<Version, VersionInputError> {
    let pre = Prerelease::new(&format!("{id}.{number}")).map_err(|e| {
        VersionInputError(format!(
            "prerelease `{id}.{number}` is not valid semver: {e}"
        ))
    })?;
    Ok(Version { pre, ..version })
}

fn next_prerelease(current: &Version, pre_id: Option<&str>) -> Result<Version, VersionInputError> {
    let core = Version::new(current.major, current.minor, current.patch);
    if current.pre.is_empty() {
        let id = pre_id.unwrap_or("rc");
        return with_pre(Version::new(core.major, core.minor, core.patch + 1), id, 1);
    }
    let (current_id, current_number) = split_pre(&current.pre);
    let id = pre_id.unwrap_or(current_id);
    if id == current_id {
        let number = current_number.map_or(1, |n| n + 1);
        return with_pre(core, id, number);
    }
    let next = with_pre(core, id, 1)?;
    if next <= *current {
        return Err(VersionInputError(format!(
            "`pre --pre-id {id}` on {current} would give {next}, which sorts before it; use a later identifier (alpha < beta < rc) or an exact version"
        )));
    }
    Ok(next)
}

/// `rc.3` → ("rc", Some(3)); `rc` → ("rc", None); `rc.x` → ("rc.x", None).
fn split_pre(pre: &Prerelease) -> (&str, Option<u64>) {
    match pre.as_str().rsplit_once('.') {
        Some((id, n)) if n.bytes().all(|b| b.is_ascii_digit()) => (id, n.parse().ok()),
        _ => (pre.as_str(), None),
    }
}

/// Spell `version` the way a location of `scheme` holds it.
pub fn render(version: &Version, scheme: Scheme) -> Result<String, String> {
    match scheme {
        Scheme::Semver => Ok(version.to_string()),
        Scheme::Pep440 => to_pep440(version),
    }
}

/// The PEP 440 spelling of a semver version. Only prereleases `alpha.N`, `beta.N`, `rc.N` and
/// `dev.N` have one (they map to `aN`, `bN`, `rcN`, `.devN`); build metadata becomes a local version.
pub fn to_pep440(version: &Version) -> Result<String, String> {
    let mut out = format!("{}.{}.{}", version.major, version.minor, version.patch);
    if !version.pre.is_empty() {
        let (id, number) = split_pre(&version.pre);
        let suffix = match (id, number) {
            ("alpha", Some(n)) => format!("a{n}"),
            ("beta", Some(n)) => format!("b{n}"),
            ("rc", Some(n)) => format!("rc{n}"),
            ("dev", Some(n)) => format!(".dev{n}"),
            _ => {
                return Err(format!(
                    "prerelease `-{}` has no PEP 440 form; use -alpha.N, -beta.N, -rc.N or -dev.N",
                    version.pre
                ))
            }
        };
        out.push_str(&suffix);
    }
    if !version.build.is_empty() {
        out.push('+');
        out.push_str(version.build.as_str());
    }
    Ok(out)
}

/// How PEP 440 orders a version Shiplane can map: `.devN` < `aN` < `bN` < `rcN` < the release.
/// (Semver orders prerelease words alphabetically, so `-dev.1` sorts after `-beta.1` there.)
/// `None` for a version with no PEP 440 form.
pub fn pep440_order(version: &Version) -> Option<(u64, u64, u64, u8, u64)> {
    let (major, minor, patch) = (version.major, version.minor, version.patch);
    if version.pre.is_empty() {
        return Some((major, minor, patch, 4, 0));
    }
    let (phase, number) = match split_pre(&version.pre) {
        ("dev", Some(n)) => (0, n),
        ("alpha", Some(n)) => (1, n),
        ("beta", Some(n)) => (2, n),
        ("rc", Some(n)) => (3, n),
        _ => return None,
    };
    Some((major, minor, patch, phase, number))
}

/// Read a PEP 440 version back into semver (`1.2.0rc1` → `1.2.0-rc.1`). Accepts PEP 440's
/// alternative spellings (`1.2.0-rc1`, `1.2.0.RC1`, `1.2.0c1`, `1.2.0alpha1`) but not forms with no
/// semver meaning (epochs, post-releases, release segments other than three numbers).
pub fn from_pep440(text: &str) -> Result<Version, String> {
    let lower = text.trim().to_ascii_lowercase();
    let (public, local) = match lower.split_once('+') {
        Some((p, l)) => (p, Some(l)),
        None => (lower.as_str(), None),
    };
    if public.contains('!') {
        return Err(format!(
            "`{text}` has a PEP 440 epoch, which semver cannot express"
        ));
    }
    let release_len = public
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(public.len());
    let release = public[..release_len].trim_end_matches('.');
    let rest = &public[release.len()..];
    let numbers: Vec<&str> = release.split('.').collect();
    if numbers.len() != 3 || numbers.iter().any(|n| n.is_empty()) {
        return Err(format!(
            "`{text}` does not have exactly three release numbers (MAJOR.MINOR.PATCH)"
        ));
    }
    let mut parsed = [0u64; 3];
    for (slot, n) in parsed.iter_mut().zip(&numbers) {
        *slot = n
            .parse()
            .map_err(|_| format!("`{text}`: `{n}` is not a number"))?;
    }
    let rest = rest.trim_start_matches(['.', '-', '_']);
    let pre = if rest.is_empty() {
        String::new()
    } else {
        let split = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let (word, number) = rest.split_at(split);
        let word = word.trim_end_matches(['.', '-', '_']);
        let id = match word {
            "a" | "alpha" => "alpha",
            "b" | "beta" => "beta",
            "rc" | "c" | "pre" | "preview" => "rc",
            "dev" => "dev",
            "post" | "rev" | "r" => {
                return Err(format!(
                    "`{text}` is a PEP 440 post-release, which semver cannot express"
                ))
            }
            _ => {
                return Err(format!(
                    "`{text}` is not a PEP 440 version Shiplane can map to semver"
                ))
            }
        };
        if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!(
                "`{text}`: the {id} prerelease needs a plain number (e.g. {release}{word}1)"
            ));
        }
        let n: u64 = number
            .parse()
            .map_err(|_| format!("`{text}`: `{number}` is not a number"))?;
        format!("{id}.{n}")
    };
    let mut version = Version::new(parsed[0], parsed[1], parsed[2]);
    if !pre.is_empty() {
        version.pre = Prerelease::new(&pre).map_err(|e| format!("`{text}`: {e}"))?;
    }
    if let Some(local) = local {
        version.build = BuildMetadata::new(local).map_err(|e| format!("`{text}`: {e}"))?;
    }
    Ok(version)
}

/// Read a version as a location of `scheme` spells it.
pub fn parse_in(text: &str, scheme: Scheme) -> Result<Version, String> {
    match scheme {
        Scheme::Semver => Version::parse(text).map_err(|e| format!("`{text}` is not semver: {e}")),
        Scheme::Pep440 => from_pep440(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }

    #[test]
    fn invalid_inputs_explain_the_fix() {
        let msg = |s: &str| parse_semver_input(s).unwrap_err().0;
        assert!(msg("").contains("empty version"), "{}", msg(""));
        assert!(msg("0.1").contains("e.g. `0.1.0`"), "{}", msg("0.1"));
        assert!(msg("v1.2").contains("starts with `v`"), "{}", msg("v1.2"));
        assert!(msg("v1.2.3").contains("write `1.2.3`"), "{}", msg("v1.2.3"));
        assert!(
            msg("1.2.3.4").contains("4 numeric parts"),
            "{}",
            msg("1.2.3.4")
        );
        assert!(msg("1.2.3.4").contains("`1.2.3`"));
        assert!(
            msg("01.2.3").contains("not a valid semver"),
            "{}",
            msg("01.2.3")
        );
        assert!(msg(" 1.2.3").contains("whitespace"));
        assert_eq!(parse_semver_input("1.2.3-rc.1").unwrap(), v("1.2.3-rc.1"));
    }

    #[test]
    fn relative_bumps_follow_semver_prerelease_rules() {
        let next = |cur: &str, t: BumpTarget, id: Option<&str>| {
            next_version(&v(cur), &t, id).unwrap().to_string()
        };
        use BumpTarget::*;
        assert_eq!(next("1.2.3", Patch, None), "1.2.4");
        assert_eq!(next("1.2.3", Minor, None), "1.3.0");
        assert_eq!(next("1.2.3", Major, None), "2.0.0");
        assert_eq!(next("1.2.0-rc.1", Patch, None), "1.2.0");
        assert_eq!(next("1.2.1-rc.1", Minor, None), "1.3.0");
        assert_eq!(next("1.3.0-rc.1", Minor, None), "1.3.0");
        assert_eq!(next("2.0.0-beta.1", Major, None), "2.0.0");
        assert_eq!(next("2.1.0-beta.1", Major, None), "3.0.0");
        assert_eq!(next("1.2.3", Minor, Some("rc")), "1.3.0-rc.1");
        assert_eq!(next("1.2.3", Pre, None), "1.2.4-rc.1");
        assert_eq!(next("1.2.0-rc.1", Pre, None), "1.2.0-rc.2");
        assert_eq!(next("1.2.0-alpha.3", Pre, Some("beta")), "1.2.0-beta.1");
        assert_eq!(next("1.2.3+build.7", Patch, None), "1.2.4");
        let backwards = next_version(&v("1.2.0-rc.2"), &Pre, Some("alpha")).unwrap_err();
        assert!(backwards.0.contains("sorts before"), "{}", backwards.0);
        assert!(next_version(&v("1.2.0"), &Pre, Some("r c")).is_err());
    }

    #[test]
    fn pep440_round_trips() {
        for (semver, pep) in [
            ("1.2.0", "1.2.0"),
            ("1.2.0-rc.1", "1.2.0rc1"),
            ("1.0.23-alpha.1", "1.0.23a1"),
            ("3.0.0-beta.12", "3.0.0b12"),
            ("0.4.0-dev.2", "0.4.0.dev2"),
            ("1.2.0+ubuntu.1", "1.2.0+ubuntu.1"),
        ] {
            assert_eq!(to_pep440(&v(semver)).unwrap(), pep);
            assert_eq!(from_pep440(pep).unwrap(), v(semver), "{pep}");
        }
        for alt in [
            "1.2.0-rc1",
            "1.2.0.RC1",
            "1.2.0c1",
            "1.2.0rc.1",
            "1.2.0-rc-1",
        ] {
            assert_eq!(from_pep440(alt).unwrap(), v("1.2.0-rc.1"), "{alt}");
        }
        assert_eq!(from_pep440("1.2.0alpha1").unwrap(), v("1.2.0-alpha.1"));
        assert!(to_pep440(&v("1.2.0-foo.1"))
            .unwrap_err()
            .contains("no PEP 440 form"));
        assert!(to_pep440(&v("1.2.0-rc")).is_err());
        assert!(from_pep440("1.2.0.post1")
            .unwrap_err()
            .contains("post-release"));
        assert!(from_pep440("1!1.2.0").unwrap_err().contains("epoch"));
        assert!(from_pep440("1.2")
            .unwrap_err()
            .contains("three release numbers"));
        assert!(from_pep440("1.2.0rc").is_err());
    }

    #[test]
    fn pep440_orders_dev_first() {
        let key = |s: &str| pep440_order(&v(s)).unwrap();
        assert!(key("1.2.0-dev.1") < key("1.2.0-alpha.1"));
        assert!(v("1.2.0-dev.1") > v("1.2.0-alpha.1"), "semver disagrees");
        assert!(key("1.2.0-rc.2") < key("1.2.0"));
        assert!(key("1.2.0") < key("1.2.1-dev.1"));
        assert!(pep440_order(&v("1.2.0-foo.1")).is_none());
    }
}
