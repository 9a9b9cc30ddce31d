//! The memo template: the text the Console puts in every alert, naming where the token sits.
//!
//! A template is checked when the settings load (unknown placeholders are an error then, not
//! at boot) and rendered once per target with that target's facts. The EC2 placeholders
//! (`{instance_id}`, `{ami_id}`, `{region}`, `{az}`) come from the instance metadata
//! service; where it is not used they render as [`UNKNOWN`].

use anyhow::bail;
use serde::Deserialize;

/// The Console refuses longer memos.
pub const MAX_MEMO: usize = 10_000;

/// The placeholders a template may use.
const PLACEHOLDERS: &[&str] = &[
    "hostname",
    "user",
    "profile",
    "path",
    "instance_id",
    "ami_id",
    "region",
    "az",
];

/// The placeholders filled from the EC2 instance metadata service.
const EC2_PLACEHOLDERS: &[&str] = &["instance_id", "ami_id", "region", "az"];

/// What an EC2 placeholder renders as when the metadata service is not used.
pub const UNKNOWN: &str = "unknown";

/// A parsed memo template such as `{hostname} {user}:{path}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Fact(String),
}

/// The values placeholders stand for.
#[derive(Debug, Default)]
pub struct Facts<'a> {
    pub hostname: &'a str,
    pub user: &'a str,
    pub profile: &'a str,
    pub path: &'a str,
    pub instance_id: &'a str,
    pub ami_id: &'a str,
    pub region: &'a str,
    pub az: &'a str,
}

impl Template {
    /// Parses a template; `{{` and `}}` stand for literal braces.
    pub fn parse(text: &str) -> anyhow::Result<Template> {
        if text.chars().any(char::is_control) {
            bail!("the memo template contains control characters (a newline, say)");
        }
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            match (c, chars.peek()) {
                ('{', Some('{')) | ('}', Some('}')) => {
                    chars.next();
                    literal.push(c);
                }
                ('{', _) => {
                    let name = take_placeholder(&mut chars)?;
                    parts.push(Part::Text(std::mem::take(&mut literal)));
                    parts.push(Part::Fact(name));
                }
                ('}', _) => bail!("unmatched '}}' in memo template"),
                _ => literal.push(c),
            }
        }
        parts.push(Part::Text(literal));
        parts.retain(|p| *p != Part::Text(String::new()));
        Ok(Template { parts })
    }

    /// Whether the template names the placeholder `name`.
    pub fn uses(&self, name: &str) -> bool {
        self.parts
            .iter()
            .any(|p| matches!(p, Part::Fact(f) if f == name))
    }

    /// Whether the template needs facts from the EC2 instance metadata service.
    pub fn uses_ec2_facts(&self) -> bool {
        EC2_PLACEHOLDERS.iter().any(|name| self.uses(name))
    }

    /// Fills in the facts; fails if the memo comes out empty or too long for the Console.
    pub fn render(&self, facts: &Facts) -> anyhow::Result<String> {
        let memo: String = self.parts.iter().map(|part| part.render(facts)).collect();
        // Facts come from the host (a path may hold anything); the alert shows one line.
        let memo: String = memo
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        if memo.trim().is_empty() {
            bail!("the memo template renders to an empty memo");
        }
        if memo.len() > MAX_MEMO {
            bail!(
                "the memo is {} bytes, more than the Console's {MAX_MEMO}",
                memo.len()
            );
        }
        Ok(memo)
    }
}

impl Part {
    fn render<'a>(&'a self, facts: &Facts<'a>) -> &'a str {
        match self {
            Part::Text(text) => text,
            Part::Fact(name) => match name.as_str() {
                "hostname" => facts.hostname,
                "user" => facts.user,
                "profile" => facts.profile,
                "path" => facts.path,
                "instance_id" => facts.instance_id,
                "ami_id" => facts.ami_id,
                "region" => facts.region,
                "az" => facts.az,
                _ => unreachable!("placeholders are checked when parsed"),
            },
        }
    }
}

/// Reads a placeholder's name up to its closing brace and checks it is known.
fn take_placeholder(chars: &mut impl Iterator<Item = char>) -> anyhow::Result<String> {
    let mut name = String::new();
    for c in chars.by_ref() {
        if c == '}' {
            check_placeholder(&name)?;
            return Ok(name);
        }
        name.push(c);
    }
    bail!("unterminated '{{' in memo template")
}

fn check_placeholder(name: &str) -> anyhow::Result<()> {
    if PLACEHOLDERS.contains(&name) {
        return Ok(());
    }
    bail!(
        "unknown placeholder '{{{name}}}' in memo template (known: {})",
        PLACEHOLDERS.join(", ")
    )
}

impl<'de> Deserialize<'de> for Template {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Template::parse(&text).map_err(|e| serde::de::Error::custom(format!("memo: {e:#}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> Facts<'static> {
        Facts {
            hostname: "web-1",
            user: "alice",
            profile: "prod-admin",
            path: "/home/alice/.aws/credentials",
            instance_id: "i-0abc",
            ami_id: "ami-0def",
            region: "eu-west-1",
            az: "eu-west-1b",
        }
    }

    #[test]
    fn renders_every_placeholder() {
        let t = Template::parse("{hostname} {user} {profile} {path}").unwrap();
        assert_eq!(
            t.render(&facts()).unwrap(),
            "web-1 alice prod-admin /home/alice/.aws/credentials"
        );
    }

    #[test]
    fn renders_ec2_facts_and_knows_it_needs_them() {
        let t = Template::parse("{hostname} {instance_id} {ami_id} {region}/{az}").unwrap();
        assert!(t.uses_ec2_facts());
        assert!(!Template::parse("{hostname}").unwrap().uses_ec2_facts());
        assert_eq!(
            t.render(&facts()).unwrap(),
            "web-1 i-0abc ami-0def eu-west-1/eu-west-1b"
        );
    }

    #[test]
    fn doubled_braces_are_literal() {
        let t = Template::parse("{{{hostname}}}").unwrap();
        assert_eq!(t.render(&facts()).unwrap(), "{web-1}");
    }

    #[test]
    fn refuses_unknown_placeholder_and_unmatched_brace() {
        assert!(Template::parse("{nope}").is_err());
        assert!(Template::parse("a}b").is_err());
        assert!(Template::parse("{hostname").is_err());
        assert!(Template::parse("a\nb").is_err());
    }

    #[test]
    fn refuses_empty_and_oversized_memos() {
        assert!(Template::parse("  ").unwrap().render(&facts()).is_err());
        let long = "x".repeat(MAX_MEMO + 1);
        assert!(Template::parse(&long).unwrap().render(&facts()).is_err());
    }
}
